import * as z from "zod";
import { realmNameSchema } from "./ids.ts";

/** Short-lived Private CA certificates live at most 7 days. */
export const MAX_CERTIFICATE_VALIDITY_SECONDS = 7 * 24 * 3600;
/** Shortest validity Tether issues: renewal traffic grows as validity shrinks. */
export const MIN_CERTIFICATE_VALIDITY_SECONDS = 3600;

const brokerUrl = z
  .string()
  .regex(/^mqtts:\/\/[^/:]+:\d{1,5}\/?$/, "must be mqtts://<host>:<port>/ with an explicit port");

export const realmSettings = z.object({
  realm_name: realmNameSchema,
  jwt_public_key_pem: z.string().min(1).max(16_384),
  broker_url: brokerUrl.optional(),
  certificate_validity_seconds: z
    .number()
    .int()
    .min(MIN_CERTIFICATE_VALIDITY_SECONDS)
    .max(MAX_CERTIFICATE_VALIDITY_SECONDS)
    .optional(),
  /** How long a superseded certificate stays usable after its replacement is issued. */
  grace_seconds: z.number().int().min(0).max(MAX_CERTIFICATE_VALIDITY_SECONDS).optional(),
  device_limit: z.number().int().min(1).optional(),
});

export const createRealmRequest = z.object({ data: realmSettings });
export type CreateRealmRequest = z.infer<typeof createRealmRequest>;

/**
 * `PATCH /v1/realms/{realm}` (merge-patch): change a realm's key (rotation), broker, validity, grace or limit.
 * `null` clears an optional setting (broker URL, device limit).
 */
export const updateRealmRequest = z.object({
  data: z
    .object({
      jwt_public_key_pem: realmSettings.shape.jwt_public_key_pem.optional(),
      broker_url: realmSettings.shape.broker_url.unwrap().nullable().optional(),
      certificate_validity_seconds: realmSettings.shape.certificate_validity_seconds,
      grace_seconds: realmSettings.shape.grace_seconds,
      device_limit: realmSettings.shape.device_limit.unwrap().nullable().optional(),
    })
    .strict(),
});
export type UpdateRealmRequest = z.infer<typeof updateRealmRequest>;

export const realmResponse = z.object({
  data: realmSettings.required({ certificate_validity_seconds: true, grace_seconds: true }).extend({
    broker_url: z.string(),
    device_count: z.number().int(),
  }),
});
export type RealmResponse = z.infer<typeof realmResponse>;
