import { ApiClient, ApiError } from "../functions/contracts/client.ts";
import type {
  CredentialsResponse,
  DeviceInfoResponse,
  VerifyResponse,
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
  readonly #api: ApiClient;
  readonly #device: { readonly realm: string; readonly device_id: string };
  readonly #retry: RetryPolicy;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: PairingClientOptions) {
    const base = options.pairingUrl.replace(/\/+$/, "");
    this.#api = new ApiClient({
      baseUrl: () => base,
      authorize: () => ({ authorization: `Bearer ${options.credentialsSecret}` }),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#device = { realm: options.realm, device_id: options.deviceId };
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#sleep = options.sleep ?? sleepFor;
  }

  async info(): Promise<DeviceInfoResponse["data"]> {
    const { body } = await this.#retrying(() => this.#api.call("deviceInfo", { params: this.#device }));
    return body.data;
  }

  async credentials(csrPem: string): Promise<CredentialsResponse["data"]> {
    const { body } = await this.#retrying(() =>
      this.#api.call("credentials", {
        params: { ...this.#device, protocol: "astarte_mqtt_v1" },
        body: { data: { csr: csrPem } },
      }),
    );
    return body.data;
  }

  async verify(certificatePem: string): Promise<VerifyResponse["data"]> {
    const { body } = await this.#retrying(() =>
      this.#api.call("verify", {
        params: { ...this.#device, protocol: "astarte_mqtt_v1" },
        body: { data: { client_crt: certificatePem } },
      }),
    );
    return body.data;
  }

  /** Retries transient failures (the network, 429, 5xx, an answer that is not the contract's); 4xx is final. */
  async #retrying<T>(attempt: () => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let n = 1; n <= this.#retry.maxAttempts; n++) {
      let retryAfterMs: number | undefined;
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof ApiError)) {
          lastError = error;
        } else {
          const refusal = new PairingError(error.status, error.body);
          if (error.status !== 429 && error.status < 500) throw refusal;
          lastError = refusal;
          // Never sooner than the server asks, and spread above it (full jitter over as long again, at most
          // 30 s), so devices refused together do not come back together; not later, since a long wait is a turn
          // Tether keeps for this device (for 10 minutes from its start).
          if (error.retryAfterSeconds !== undefined) {
            retryAfterMs = retryAfterWait(error.retryAfterSeconds, Math.random());
          }
        }
      }
      if (n < this.#retry.maxAttempts) await this.#sleep(retryAfterMs ?? this.backoff(n));
    }
    throw lastError;
  }

  /** Full jitter: a random wait up to min(max, base·2^(attempt-1)). */
  backoff(attempt: number): number {
    const cap = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(Math.random() * cap);
  }
}

/**
 * How long the SDK waits when told `Retry-After: seconds`: that long, plus a full jitter over as long again
 * capped at 30 s (`random` in [0, 1)).
 */
export function retryAfterWait(seconds: number, random: number): number {
  return seconds * 1000 + random * Math.min(seconds * 1000, 30_000);
}
