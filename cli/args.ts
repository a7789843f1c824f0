import { canonicalDeviceId } from "../functions/contracts/ids.ts";
import { parseDuration } from "./cost.ts";
import { CliError, EXIT, usageError } from "./errors.ts";
import type { Target } from "./target.ts";

/** One `tether …` command: what it says of itself, the options it takes, and what it does. */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  /** Runs on this machine alone: no Tether instance, so the connection options do not apply. */
  readonly local?: true;
  readonly options?: Record<string, { type: "string" | "boolean" }>;
  run(args: Args): Promise<unknown>;
}

/** A command's parsed arguments, the Tether it talks to, and where its output goes. */
export interface Args {
  readonly positionals: string[];
  readonly values: Record<string, string | boolean | undefined>;
  target(): Target;
  /** Prints `human`, or `data` as JSON with `--json`. */
  out(human: string, data: unknown): void;
  /** Like {@link out}, for a stream of records: with `--json`, one compact JSON object a line. */
  outLine(human: string, data: unknown): void;
  /** Whether `--json` was asked for (progress goes to stderr only without it). */
  readonly json: boolean;
}

export const str = (args: Args, name: string): string | undefined => {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
};

export function need(args: Args, index: number, what: string): string {
  const value = args.positionals[index];
  if (!value) throw usageError(`missing ${what}`);
  return value;
}

export function realmOf(target: Target): string {
  if (!target.realm) throw new CliError("no realm: pass --realm or set TETHER_REALM", EXIT.config);
  return target.realm;
}

export function deviceArg(args: Args, index: number): string {
  const text = need(args, index, "DEVICE_ID");
  if (!canonicalDeviceId(text))
    throw usageError(`${text} is not a device id (22 characters of URL-safe base64)`);
  return text;
}

export const durationOption = (args: Args, name: string): number | undefined => {
  const text = str(args, name);
  if (text === undefined) return undefined;
  const seconds = parseDuration(text);
  if (seconds === undefined) throw usageError(`--${name} ${text}: use e.g. 7d, 36h, 90m or seconds`);
  return seconds;
};
