/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  usage: 1,
  config: 2,
  /** The API refused the request (4xx). */
  rejected: 3,
  /** The API or the network failed (5xx, unreachable). */
  unavailable: 4,
  /** A bulk run finished with some failures. */
  partial: 5,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);
