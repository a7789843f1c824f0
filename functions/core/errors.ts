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

/** No usable credentials were presented; each subclass names why. */
export abstract class UnauthenticatedError extends DomainError {}

/** No `Authorization: Bearer …` at all: an agent's JWT or a device's credentials secret was expected. */
export class BearerMissingError extends UnauthenticatedError {
  readonly code = "BEARER_MISSING";
  constructor(readonly expected: "jwt" | "secret") {
    super(`missing ${expected}`);
  }
}

/** A JWT that does not verify against the realm's key (signature, algorithm, expiry, shape). */
export class TokenInvalidError extends UnauthenticatedError {
  readonly code = "TOKEN_INVALID";
  constructor(options?: { cause?: unknown }) {
    super("invalid JWT", options);
  }
}

/** Credentials were presented but do not allow this; each subclass names why. */
export abstract class ForbiddenError extends DomainError {}

/** A realm that does not exist (or is being deleted), named by a device route or a realm check. */
export class UnknownRealmError extends ForbiddenError {
  readonly code = "UNKNOWN_REALM";
  constructor() {
    super("unknown realm");
  }
}

/** A credentials secret that is not the device's (or a device with none: unregistered). */
export class WrongSecretError extends ForbiddenError {
  readonly code = "WRONG_SECRET";
  constructor() {
    super("wrong credentials secret");
  }
}

/** The device's credentials are inhibited: no new certificate. */
export class DeviceInhibitedError extends ForbiddenError {
  readonly code = "DEVICE_INHIBITED";
  constructor() {
    super("credentials inhibited");
  }
}

/** A valid JWT whose claim grants nothing for this method and path. */
export class ClaimMissingError extends ForbiddenError {
  readonly code = "CLAIM_MISSING";
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`no grant for ${method} ${path}`);
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

/** A well-formed request the state refuses (422); each subclass names why. */
export abstract class UnprocessableError extends DomainError {}

/** Registering a device that already asked for credentials: it must be unregistered first. */
export class DeviceAlreadyConfirmedError extends UnprocessableError {
  readonly code = "DEVICE_ALREADY_CONFIRMED";
  constructor() {
    super("device already confirmed");
  }
}

/** Registering one device more than the realm's limit. */
export class RegistrationLimitReachedError extends UnprocessableError {
  readonly code = "REGISTRATION_LIMIT_REACHED";
  constructor() {
    super("registration limit reached");
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

/**
 * The account's AWS request budget for issuance is spent for now (core/aws-budget.ts): refused before any
 * Private CA or IoT call; retry after `retryAfterSeconds` (already spread per device).
 */
export class AwsBudgetExceededError extends DomainError {
  readonly code = "AWS_BUDGET_EXCEEDED";
  constructor(readonly retryAfterSeconds: number) {
    super("Certificate issuance is at the service's AWS request quota");
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
