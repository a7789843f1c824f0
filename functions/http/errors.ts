import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import {
  AwsBudgetExceededError,
  BearerMissingError,
  ClaimMissingError,
  DependencyUnavailableError,
  DeviceAlreadyConfirmedError,
  DeviceInhibitedError,
  DeviceNotFoundError,
  DomainError,
  IssuanceBudgetExceededError,
  IssuanceInProgressError,
  MalformedRequestError,
  PayloadTooLargeError,
  RealmExistsError,
  RealmNotFoundError,
  RegistrationLimitReachedError,
  ThrottledError,
  TokenInvalidError,
  UnknownRealmError,
  ValidationError,
  WrongSecretError,
} from "../core/errors.ts";
import { json } from "./responses.ts";

const detail = (status: number, text: string, headers?: Record<string, string>) =>
  json(status, { errors: { detail: text } }, headers);

/**
 * The one map from domain errors to the Pairing API's error bodies (Astarte's shapes and wording). Anything
 * unknown is a 500 whose body says nothing but the request id; the details go to the log.
 */
export function errorResponse(error: unknown, requestId: string): APIGatewayProxyStructuredResultV2 {
  if (error instanceof MalformedRequestError) return detail(400, "Bad request");
  if (error instanceof PayloadTooLargeError) return detail(413, "Payload too large");
  if (error instanceof ValidationError) return json(422, { errors: error.fields });
  // Astarte's texts: a device route without a secret says "Unauthorized", an agent route without a JWT names it.
  if (error instanceof BearerMissingError)
    return detail(401, error.expected === "jwt" ? "Missing authorization token" : "Unauthorized");
  if (error instanceof TokenInvalidError) return detail(401, "Invalid JWT token");
  if (error instanceof UnknownRealmError || error instanceof WrongSecretError)
    return detail(403, "Forbidden");
  if (error instanceof DeviceInhibitedError) return detail(403, "Credentials request inhibited");
  if (error instanceof ClaimMissingError) {
    return detail(
      403,
      `Unauthorized access to ${error.method} ${error.path}. Please verify your permissions`,
    );
  }
  if (error instanceof DeviceNotFoundError) return detail(404, "Device not found");
  if (error instanceof RealmNotFoundError) return detail(404, "Realm not found");
  if (error instanceof RealmExistsError)
    return json(422, { errors: { realm_name: ["has already been taken"] } });
  if (error instanceof DeviceAlreadyConfirmedError) return detail(422, "Device already registered");
  if (error instanceof RegistrationLimitReachedError) return detail(422, "Device registration limit reached");
  if (error instanceof IssuanceBudgetExceededError) {
    // Already spread per device by the budget (core/admission.ts).
    return detail(429, error.message, { "retry-after": String(error.retryAfterSeconds) });
  }
  if (error instanceof AwsBudgetExceededError) {
    // Already spread per device by the budget (core/aws-budget.ts).
    return detail(429, "Too many requests", { "retry-after": String(error.retryAfterSeconds) });
  }
  if (error instanceof IssuanceInProgressError) {
    return detail(429, error.message, { "retry-after": String(jittered(error.retryAfterSeconds)) });
  }
  if (error instanceof ThrottledError) {
    return detail(429, "Too many requests", { "retry-after": String(jittered(error.retryAfterSeconds)) });
  }
  if (error instanceof DependencyUnavailableError) {
    return detail(503, "Service unavailable", { "retry-after": String(jittered(error.retryAfterSeconds)) });
  }
  return json(500, { errors: { detail: "Internal server error", request_id: requestId } });
}

/** Stable name of an error's cause, for the "rejected" metric and the log. */
export function errorCode(error: unknown): string {
  return error instanceof DomainError ? error.code : "INTERNAL";
}

/**
 * Every cause a request can be refused for: the `Rejected_<cause>` metrics the HTTP functions emit (alarms and
 * the dashboard may watch only these; an infra test checks it).
 */
export const REJECTION_CAUSES = [
  "MALFORMED_REQUEST",
  "PAYLOAD_TOO_LARGE",
  "VALIDATION_FAILED",
  "BEARER_MISSING",
  "TOKEN_INVALID",
  "UNKNOWN_REALM",
  "WRONG_SECRET",
  "DEVICE_INHIBITED",
  "CLAIM_MISSING",
  "DEVICE_NOT_FOUND",
  "REALM_NOT_FOUND",
  "REALM_EXISTS",
  "DEVICE_ALREADY_CONFIRMED",
  "REGISTRATION_LIMIT_REACHED",
  "ISSUANCE_BUDGET_EXCEEDED",
  "ISSUANCE_IN_PROGRESS",
  "AWS_BUDGET_EXCEEDED",
  "THROTTLED",
  "DEPENDENCY_UNAVAILABLE",
  "INTERNAL",
] as const;

/**
 * `Retry-After` for a refusal many callers may get at once (a throttled dependency, an outage): a whole number
 * of seconds drawn evenly from [base, 2·base], so a storm refused together comes back spread out instead of in
 * lockstep, and never sooner than the base asks.
 */
export function jittered(baseSeconds: number): number {
  return baseSeconds + Math.floor(Math.random() * (baseSeconds + 1));
}
