import * as z from "zod";

/**
 * Wire contracts of the Pairing API v1 (Astarte-compatible). Requests are validated with these at the edge;
 * responses are typed by them so the SDK and the server cannot drift apart.
 */

const envelope = <T extends z.ZodType>(data: T) => z.object({ data });

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
    .min(1, "can't be blank")
    .max(max, `must be at most ${max} characters`);

const interfaceVersion = z.object({ major: z.number().int().min(0), minor: z.number().int().min(0) });

export const registerDeviceRequest = envelope(
  z.object({
    hw_id: requiredString(512),
    initial_introspection: z.record(z.string().min(1).max(128), interfaceVersion).optional(),
  }),
);
export type RegisterDeviceRequest = z.infer<typeof registerDeviceRequest>;

export const credentialsRequest = envelope(z.object({ csr: requiredString(16_384) }));
export const verifyRequest = envelope(z.object({ client_crt: requiredString(16_384) }));

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
    renew_after: z.string().optional(),
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
      renew_after: z.string().optional(),
    }),
    z.object({
      valid: z.literal(false),
      timestamp: z.string(),
      cause: verifyCause,
      details: z.string().nullable(),
    }),
  ]),
);
export type VerifyResponse = z.infer<typeof verifyResponse>;

/** AppEngine subset: `PATCH /v1/{realm}/devices/{id}` with a merge-patch body. */
export const devicePatchRequest = envelope(
  z
    .object({
      credentials_inhibited: z.boolean().optional(),
      /** Tether extension: with `credentials_inhibited: true`, also deactivate live certificates now. */
      revoke_credentials: z.boolean().optional(),
    })
    .strict(),
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
    first_registration: z.string().nullable(),
    first_credentials_request: z.string().nullable(),
    last_credentials_request_ip: z.string().nullable(),
    introspection: z.record(z.string(), interfaceVersion),
    connected: z.boolean(),
    last_connection: z.string().nullable(),
    last_disconnection: z.string().nullable(),
    last_seen_ip: z.string().nullable(),
    /** Tether: what the device reported about itself on `<realm>/<id>/metadata`. */
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    certificate: certificateSummary.nullable(),
  }),
);
export type DeviceStatusResponse = z.infer<typeof deviceStatusResponse>;

export const deviceListResponse = z.object({
  data: z.array(deviceStatusResponse.shape.data),
  links: z.object({ next: z.string().optional() }),
});
export type DeviceListResponse = z.infer<typeof deviceListResponse>;

export const deviceListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  from: z.string().max(64).optional(),
});

export const credentialEvent = z.object({
  type: z.string(),
  at: z.string(),
  serial: z.string().optional(),
  reason: z.string().optional(),
});
export const deviceEventsResponse = z.object({ data: z.array(credentialEvent) });
export type DeviceEventsResponse = z.infer<typeof deviceEventsResponse>;

/** Error bodies: `{"errors": {"detail": "..."}}` or `{"errors": {"<field>": ["..."]}}`. */
export const errorBody = z.object({
  errors: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
});
export type ErrorBody = z.infer<typeof errorBody>;
