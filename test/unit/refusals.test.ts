import { describe, expect, it } from "vitest";
import {
  AwsBudgetExceededError,
  BearerMissingError,
  ClaimMissingError,
  DependencyUnavailableError,
  DeviceAlreadyConfirmedError,
  DeviceInhibitedError,
  DeviceNotFoundError,
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
} from "../../functions/core/errors.ts";
import { errorCode, errorResponse, REJECTION_CAUSES } from "../../functions/http/errors.ts";

// Every refusal, by cause: its metric name, and the status and Astarte text http/errors.ts gives it.
const CASES: [Error, string, number, unknown][] = [
  [new MalformedRequestError("x"), "Rejected_MALFORMED_REQUEST", 400, { detail: "Bad request" }],
  [new PayloadTooLargeError("x"), "Rejected_PAYLOAD_TOO_LARGE", 413, { detail: "Payload too large" }],
  [new ValidationError({ csr: ["is invalid"] }), "Rejected_VALIDATION_FAILED", 422, { csr: ["is invalid"] }],
  [new BearerMissingError("jwt"), "Rejected_BEARER_MISSING", 401, { detail: "Missing authorization token" }],
  [new BearerMissingError("secret"), "Rejected_BEARER_MISSING", 401, { detail: "Unauthorized" }],
  [new TokenInvalidError(), "Rejected_TOKEN_INVALID", 401, { detail: "Invalid JWT token" }],
  [new UnknownRealmError(), "Rejected_UNKNOWN_REALM", 403, { detail: "Forbidden" }],
  [new WrongSecretError(), "Rejected_WRONG_SECRET", 403, { detail: "Forbidden" }],
  [new DeviceInhibitedError(), "Rejected_DEVICE_INHIBITED", 403, { detail: "Credentials request inhibited" }],
  [
    new ClaimMissingError("POST", "agent/devices"),
    "Rejected_CLAIM_MISSING",
    403,
    { detail: "Unauthorized access to POST agent/devices. Please verify your permissions" },
  ],
  [new DeviceNotFoundError(), "Rejected_DEVICE_NOT_FOUND", 404, { detail: "Device not found" }],
  [new RealmNotFoundError(), "Rejected_REALM_NOT_FOUND", 404, { detail: "Realm not found" }],
  [new RealmExistsError(), "Rejected_REALM_EXISTS", 422, { realm_name: ["has already been taken"] }],
  [
    new DeviceAlreadyConfirmedError(),
    "Rejected_DEVICE_ALREADY_CONFIRMED",
    422,
    { detail: "Device already registered" },
  ],
  [
    new RegistrationLimitReachedError(),
    "Rejected_REGISTRATION_LIMIT_REACHED",
    422,
    { detail: "Device registration limit reached" },
  ],
  [
    new IssuanceBudgetExceededError(7),
    "Rejected_ISSUANCE_BUDGET_EXCEEDED",
    429,
    { detail: "Certificate issuance budget exceeded" },
  ],
  [
    new IssuanceInProgressError(2),
    "Rejected_ISSUANCE_IN_PROGRESS",
    429,
    { detail: "Another credentials request for this device is in progress" },
  ],
  [new AwsBudgetExceededError(3), "Rejected_AWS_BUDGET_EXCEEDED", 429, { detail: "Too many requests" }],
  [new ThrottledError(2), "Rejected_THROTTLED", 429, { detail: "Too many requests" }],
  [
    new DependencyUnavailableError(5),
    "Rejected_DEPENDENCY_UNAVAILABLE",
    503,
    { detail: "Service unavailable" },
  ],
  [new Error("boom"), "Rejected_INTERNAL", 500, { detail: "Internal server error", request_id: "req-1" }],
];

describe("refusals, by cause", () => {
  it.each(CASES)("%s → metric %s, status %i and Astarte's body", (error, metric, status, errors) => {
    expect(`Rejected_${errorCode(error)}`).toBe(metric);
    const response = errorResponse(error, "req-1");
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(String(response.body))).toEqual({ errors });
  });

  it("lists every cause the code can emit, and no other", () => {
    const emitted = new Set(CASES.map(([, metric]) => metric));
    expect([...emitted].sort()).toEqual(REJECTION_CAUSES.map((c) => `Rejected_${c}`).sort());
  });
});
