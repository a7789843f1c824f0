import { z } from "zod";
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

export const realmResponse = z.object({
  data: realmSettings.required({ certificate_validity_seconds: true, grace_seconds: true }).extend({
    broker_url: z.string(),
    device_count: z.number().int(),
  }),
});
export type RealmResponse = z.infer<typeof realmResponse>;
