import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import {
  DependencyUnavailableError,
  DeviceNotFoundError,
  DomainError,
  ForbiddenError,
  IssuanceBudgetExceededError,
  IssuanceInProgressError,
  MalformedRequestError,
  PayloadTooLargeError,
  RealmExistsError,
  RealmNotFoundError,
  ThrottledError,
  UnauthenticatedError,
  UnprocessableError,
  ValidationError,
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
  if (error instanceof UnauthenticatedError) return detail(401, error.detail);
  if (error instanceof ForbiddenError) return detail(403, error.detail);
  if (error instanceof DeviceNotFoundError) return detail(404, "Device not found");
  if (error instanceof RealmNotFoundError) return detail(404, "Realm not found");
  if (error instanceof RealmExistsError)
    return json(422, { errors: { realm_name: ["has already been taken"] } });
  if (error instanceof UnprocessableError) return detail(422, error.detail);
  if (error instanceof IssuanceBudgetExceededError || error instanceof IssuanceInProgressError) {
    return detail(429, error.message, { "retry-after": String(error.retryAfterSeconds) });
  }
  if (error instanceof ThrottledError) {
    return detail(429, "Too many requests", { "retry-after": String(error.retryAfterSeconds) });
  }
  if (error instanceof DependencyUnavailableError) {
    return detail(503, "Service unavailable", { "retry-after": String(error.retryAfterSeconds) });
  }
  return json(500, { errors: { detail: "Internal server error", request_id: requestId } });
}

/** Stable name of an error's cause, for the "rejected" metric and the log. */
export function errorCode(error: unknown): string {
  return error instanceof DomainError ? error.code : "INTERNAL";
}
