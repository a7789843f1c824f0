import type * as z from "zod/mini";
import {
  type CredentialsResponse,
  credentialsResponse,
  type DeviceInfoResponse,
  deviceInfoResponse,
  type VerifyResponse,
  verifyResponse,
} from "../functions/contracts/pairing.ts";

/** A Pairing API answer the SDK will not retry (4xx other than 429): wrong secret, inhibited, bad CSR… */
export class PairingError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`Pairing API answered ${status}: ${JSON.stringify(body)}`);
    this.name = "PairingError";
  }
}

export interface RetryPolicy {
  /** Attempts per call, the first included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 60_000 };

export interface PairingClientOptions {
  readonly pairingUrl: string;
  readonly realm: string;
  readonly deviceId: string;
  readonly credentialsSecret: string;
  readonly retry?: RetryPolicy;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The device side of the Pairing API: info, credentials, verify. Transient failures (network, 429, 5xx) are
 * retried with exponential backoff and full jitter, honouring `Retry-After`; answers are validated against the
 * same zod contracts the server uses.
 */
export class PairingClient {
  readonly #base: string;
  readonly #retry: RetryPolicy;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: PairingClientOptions) {
    this.#base = `${options.pairingUrl.replace(/\/+$/, "")}/v1/${options.realm}/devices/${options.deviceId}`;
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#fetch = options.fetch ?? fetch;
    this.#sleep = options.sleep ?? sleepFor;
  }

  info(): Promise<DeviceInfoResponse["data"]> {
    return this.#call("GET", "", undefined, deviceInfoResponse).then((r) => r.data);
  }

  credentials(csrPem: string): Promise<CredentialsResponse["data"]> {
    return this.#call(
      "POST",
      "/protocols/astarte_mqtt_v1/credentials",
      { data: { csr: csrPem } },
      credentialsResponse,
    ).then((r) => r.data);
  }

  verify(certificatePem: string): Promise<VerifyResponse["data"]> {
    return this.#call(
      "POST",
      "/protocols/astarte_mqtt_v1/credentials/verify",
      { data: { client_crt: certificatePem } },
      verifyResponse,
    ).then((r) => r.data);
  }

  async #call<T>(method: string, path: string, body: unknown, schema: z.ZodMiniType<T>): Promise<T> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#retry.maxAttempts; attempt++) {
      let retryAfterMs: number | undefined;
      try {
        const response = await this.#fetch(`${this.#base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.options.credentialsSecret}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await response.text();
        const parsed = text ? (JSON.parse(text) as unknown) : undefined;
        if (response.ok) return schema.parse(parsed);
        if (response.status !== 429 && response.status < 500) throw new PairingError(response.status, parsed);
        lastError = new PairingError(response.status, parsed);
        const header = Number(response.headers.get("retry-after"));
        if (Number.isFinite(header) && header > 0) retryAfterMs = header * 1000;
      } catch (error) {
        if (error instanceof PairingError && error.status !== 429 && error.status < 500) throw error;
        lastError = error;
      }
      if (attempt < this.#retry.maxAttempts) await this.#sleep(retryAfterMs ?? this.backoff(attempt));
    }
    throw lastError;
  }

  /** Full jitter: a random wait up to min(max, base·2^(attempt-1)). */
  backoff(attempt: number): number {
    const cap = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(Math.random() * cap);
  }
}
