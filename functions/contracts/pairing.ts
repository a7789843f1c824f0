import * as z from "zod/mini";
import "./zod-messages.ts";

/**
 * Wire contracts of the Pairing API v1 (Astarte-compatible). Requests are validated with these at the edge;
 * responses are typed by them so the SDK and the server cannot drift apart.
 */

const envelope = <T extends z.ZodMiniType>(data: T) => z.object({ data });

/**
 * A required string whose absence or emptiness reads "can't be blank", Astarte's wording for every required
 * field. `max` bounds what Tether will even look at.
 */
const requiredString = (max: number) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined || issue.input === null ? "can't be blank" : "must be a string",
    })
    .check(z.minLength(1, "can't be blank"), z.maxLength(max, `must be at most ${max} characters`));

/** Astarte's interface names: its interface schema's `interface_name` pattern, at most 128 characters. */
const INTERFACE_NAME = /^([a-zA-Z][a-zA-Z0-9]*\.([a-zA-Z0-9][a-zA-Z0-9-]*\.)*)?[a-zA-Z][a-zA-Z0-9]*$/;

/** A property name that is safe as a key of a plain object: none of `Object.prototype`'s own names. */
export function isPlainKey(key: string): boolean {
  return !Object.hasOwn(Object.prototype, key);
}

/**
 * Every key an interface name, and never a name `Object.prototype` has (`constructor`, `__proto__`,
 * `toString`…): such a key, used as a property name, changes what the object is (the DynamoDB marshaller took
 * `{constructor: …}` for a class instance). Checked on the raw JSON object, because `z.record` skips `__proto__`.
 */
const interfaceNames = z.custom<unknown>(
  (raw) =>
    typeof raw !== "object" ||
    raw === null ||
    Object.keys(raw).every((key) => key.length <= 128 && INTERFACE_NAME.test(key) && isPlainKey(key)),
  "must map Astarte interface names to versions",
);

const interfaceVersion = z.object({ major: z.int().check(z.minimum(0)), minor: z.int().check(z.minimum(0)) });

export const registerDeviceRequest = envelope(
  z.object({
    hw_id: requiredString(512),
    initial_introspection: z.optional(z.pipe(interfaceNames, z.record(z.string(), interfaceVersion))),
  }),
);
export type RegisterDeviceRequest = z.infer<typeof registerDeviceRequest>;

export const credentialsRequest = envelope(z.object({ csr: requiredString(16_384) }));
export type CredentialsRequest = z.infer<typeof credentialsRequest>;
export const verifyRequest = envelope(z.object({ client_crt: requiredString(16_384) }));
export type VerifyRequest = z.infer<typeof verifyRequest>;

export const registerDeviceResponse = envelope(z.object({ credentials_secret: z.string() }));
export type RegisterDeviceResponse = z.infer<typeof registerDeviceResponse>;

export const deviceStatus = z.enum(["pending", "confirmed", "inhibited"]);

export const deviceInfoResponse = envelope(
  z.object({
    version: z.string(),
    status: deviceStatus,
    protocols: z.object({ astarte_mqtt_v1: z.object({ broker_url: z.string() }) }),
  }),
);
export type DeviceInfoResponse = z.infer<typeof deviceInfoResponse>;

export const credentialsResponse = envelope(
  z.object({
    client_crt: z.string(),
    /** Tether extension: when the device should renew (Astarte SDKs ignore unknown fields). */
    renew_after: z.optional(z.string()),
  }),
);
export type CredentialsResponse = z.infer<typeof credentialsResponse>;

export const verifyCause = z.enum([
  "EXPIRED",
  "INVALID_ISSUER",
  "INVALID_SIGNATURE",
  "NAME_NOT_PERMITTED",
  "MISSING_BASIC_CONSTRAINT",
  "INVALID_KEY_USAGE",
  "REVOKED",
  "INVALID",
]);
export type VerifyCause = z.infer<typeof verifyCause>;

export const verifyResponse = envelope(
  z.union([
    z.object({
      valid: z.literal(true),
      timestamp: z.string(),
      until: z.string(),
      /** Tether extension: when to renew this certificate (Astarte SDKs ignore unknown fields). */
      renew_after: z.optional(z.string()),
    }),
    z.object({
      valid: z.literal(false),
      timestamp: z.string(),
      cause: verifyCause,
      details: z.nullable(z.string()),
    }),
  ]),
);
export type VerifyResponse = z.infer<typeof verifyResponse>;

/** AppEngine subset: `PATCH /v1/{realm}/devices/{id}` with a merge-patch body. */
export const devicePatchRequest = envelope(
  z.strictObject({
    credentials_inhibited: z.optional(z.boolean()),
    /** Tether extension: with `credentials_inhibited: true`, also deactivate live certificates now. */
    revoke_credentials: z.optional(z.boolean()),
  }),
);
export type DevicePatchRequest = z.infer<typeof devicePatchRequest>;

export const certificateSummary = z.object({
  serial: z.string(),
  not_before: z.string(),
  not_after: z.string(),
  state: z.string(),
});

export const deviceStatusResponse = envelope(
  z.object({
    id: z.string(),
    credentials_inhibited: z.boolean(),
    first_registration: z.nullable(z.string()),
    first_credentials_request: z.nullable(z.string()),
    last_credentials_request_ip: z.nullable(z.string()),
    introspection: z.record(z.string(), interfaceVersion),
    connected: z.boolean(),
    last_connection: z.nullable(z.string()),
    last_disconnection: z.nullable(z.string()),
    last_seen_ip: z.nullable(z.string()),
    /** Tether: what the device reported about itself on `<realm>/<id>/metadata`. */
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    certificate: z.nullable(certificateSummary),
  }),
);
export type DeviceStatusResponse = z.infer<typeof deviceStatusResponse>;

/**
 * Astarte AppEngine's device list: with `details=false` (the default, what astartectl asks for) `data` is a list
 * of device ids, with `details=true` device status objects. `links.self` is the request's path and query,
 * `links.next` (only when more devices follow) the next page's, with its `from_token`.
 */
export const deviceListResponse = z.object({
  data: z.union([z.array(z.string()), z.array(deviceStatusResponse.shape.data)]),
  links: z.object({ self: z.string(), next: z.optional(z.string()) }),
});
export type DeviceListResponse = z.infer<typeof deviceListResponse>;

export const deviceListQuery = z.object({
  details: z._default(z.enum(["true", "false"]), "false"),
  limit: z._default(z.pipe(z.coerce.number(), z.int().check(z.minimum(1), z.maximum(100))), 100),
  /** Where the page starts (a token from `links.next`); `from` is Tether's older name for it. */
  from_token: z.optional(z.string().check(z.maxLength(256))),
  from: z.optional(z.string().check(z.maxLength(64))),
  /** Tether's search (additive): which devices, in which order; the combinations served are in README. */
  status: z.optional(z.enum(["pending", "confirmed", "inhibited"])),
  connected: z.optional(z.enum(["true", "false"])),
  id_prefix: z.optional(
    z.string().check(z.regex(/^[A-Za-z0-9_-]{1,22}$/, "is 1 to 22 device id characters")),
  ),
  sort: z.optional(z.enum(["device_id", "last_seen", "expiry"])),
  /** Devices whose current certificate expires before this time (sort=expiry, the default with it). */
  expiring_before: z.optional(z.iso.datetime({ offset: true })),
  /** Devices whose metadata has metadata_value under metadata_key, one of the realm's indexed keys. */
  metadata_key: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,64}$/, "is a metadata key"))),
  metadata_value: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});

export const credentialEvent = z.object({
  type: z.string(),
  at: z.string(),
  serial: z.optional(z.string()),
  reason: z.optional(z.string()),
});
export const deviceEventsResponse = z.object({ data: z.array(credentialEvent) });
export type DeviceEventsResponse = z.infer<typeof deviceEventsResponse>;

const presenceCounts = z.object({ connected: z.number(), disconnected: z.number() });
/**
 * Tether's fleet overview: the realm's devices by status and presence and its certificates by expiry, counted at
 * `counted_at` (again at most every `counted_every_seconds`), and hourly activity counters over the last 7 days
 * (`issued`, `renewed`, `refused_<cause>`, `swept_<reason>`; hours without activity left out).
 */
export const fleetOverviewResponse = z.object({
  data: z.object({
    total_devices: z.number(),
    connected_devices: z.number(),
    devices: z.object({ pending: presenceCounts, confirmed: presenceCounts, inhibited: presenceCounts }),
    certificates: z.object({ expiring_within_24h: z.number(), lapsed: z.number() }),
    counted_at: z.string(),
    counted_every_seconds: z.number(),
    activity: z.object({
      from: z.string(),
      to: z.string(),
      hours: z.array(z.object({ hour: z.string(), counts: z.record(z.string(), z.number()) })),
    }),
  }),
});
export type FleetOverviewResponse = z.infer<typeof fleetOverviewResponse>;

/** Error bodies: `{"errors": {"detail": "..."}}` or `{"errors": {"<field>": ["..."]}}`. */
export const errorBody = z.object({
  errors: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
});
export type ErrorBody = z.infer<typeof errorBody>;
