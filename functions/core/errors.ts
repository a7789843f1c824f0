/**
 * Typed domain errors. Core throws these with a stable `code`; one map in `functions/http` turns them into
 * the Pairing API's status codes and bodies. Nothing here knows about HTTP.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is not well formed (not JSON, no `data`, unknown protocol…). */
export class MalformedRequestError extends DomainError {
  readonly code = "MALFORMED_REQUEST";
}

/** The request body is larger than Tether accepts. */
export class PayloadTooLargeError extends DomainError {
  readonly code = "PAYLOAD_TOO_LARGE";
}

/** One or more fields failed validation; `fields` maps a field name to its messages. */
export class ValidationError extends DomainError {
  readonly code = "VALIDATION_FAILED";
  constructor(readonly fields: Readonly<Record<string, readonly string[]>>) {
    super(`invalid ${Object.keys(fields).join(", ")}`);
  }
}

/** No usable credentials were presented. `detail` is the spec's text. */
export class UnauthenticatedError extends DomainError {
  readonly code = "UNAUTHENTICATED";
  constructor(
    readonly detail: string = "Unauthorized",
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
}

/** Credentials were presented but do not allow this (wrong secret, unknown realm, missing claim, inhibited). */
export class ForbiddenError extends DomainError {
  readonly code = "FORBIDDEN";
  constructor(readonly detail: string = "Forbidden") {
    super(detail);
  }
}

export class DeviceNotFoundError extends DomainError {
  readonly code = "DEVICE_NOT_FOUND";
  constructor() {
    super("Device not found");
  }
}

export class RealmNotFoundError extends DomainError {
  readonly code = "REALM_NOT_FOUND";
  constructor() {
    super("Realm not found");
  }
}

export class RealmExistsError extends DomainError {
  readonly code = "REALM_EXISTS";
  constructor() {
    super("Realm already exists");
  }
}

/** A 422 with a `detail` (already registered, registration limit). */
export class UnprocessableError extends DomainError {
  readonly code = "UNPROCESSABLE";
  constructor(readonly detail: string) {
    super(detail);
  }
}

/** A dependency throttled us; the client should retry after `retryAfterSeconds`. */
export class ThrottledError extends DomainError {
  readonly code = "THROTTLED";
  constructor(
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super("Too many requests", options);
  }
}

/** The device spent its issuance budget; it may issue again after `retryAfterSeconds`. */
export class IssuanceBudgetExceededError extends DomainError {
  readonly code = "ISSUANCE_BUDGET_EXCEEDED";
  constructor(readonly retryAfterSeconds: number) {
    super("Certificate issuance budget exceeded");
  }
}

/** Another credentials request of the same device is being served; retry after `retryAfterSeconds`. */
export class IssuanceInProgressError extends DomainError {
  readonly code = "ISSUANCE_IN_PROGRESS";
  constructor(readonly retryAfterSeconds: number) {
    super("Another credentials request for this device is in progress");
  }
}

/** A dependency is down; the client should retry after `retryAfterSeconds`. */
export class DependencyUnavailableError extends DomainError {
  readonly code = "DEPENDENCY_UNAVAILABLE";
  constructor(
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super("Service unavailable", options);
  }
}

export const DEVICE_ALREADY_REGISTERED = "Device already registered";
export const REGISTRATION_LIMIT_REACHED = "Device registration limit reached";
export const CREDENTIALS_INHIBITED = "Credentials request inhibited";
