import { DependencyUnavailableError, ThrottledError } from "../core/errors.ts";

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "LimitExceededException",
  "SlowDown",
]);
const UNAVAILABLE = new Set([
  "ServiceUnavailableException",
  "ServiceUnavailable",
  "InternalFailureException",
  "InternalFailure",
  "InternalServerError",
  "InternalServerException",
  "TimeoutError",
  "RequestTimeout",
]);
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);

interface AwsLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/**
 * Turns what an AWS call threw (after the SDK's own retries) into a domain error when it is the
 * dependency's fault: throttling → ThrottledError (429), outage → DependencyUnavailableError (503). Anything
 * else is returned as it was.
 */
export function mapAwsError(error: unknown): unknown {
  const e = (error ?? {}) as AwsLikeError;
  if (e.name && THROTTLING.has(e.name)) return new ThrottledError(2, { cause: error });
  const status = e.$metadata?.httpStatusCode ?? 0;
  if ((e.name && UNAVAILABLE.has(e.name)) || status >= 500 || (e.code && NETWORK.has(e.code))) {
    return new DependencyUnavailableError(5, { cause: error });
  }
  return error;
}

/** Runs an AWS call and maps its failure with {@link mapAwsError}. */
export async function aws<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw mapAwsError(error);
  }
}
