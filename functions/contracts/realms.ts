import * as z from "zod/mini";
import { realmNameSchema } from "./ids.ts";

/** Short-lived Private CA certificates live at most 7 days. */
export const MAX_CERTIFICATE_VALIDITY_SECONDS = 7 * 24 * 3600;
/** Shortest validity Tether issues: renewal traffic grows as validity shrinks. */
export const MIN_CERTIFICATE_VALIDITY_SECONDS = 3600;

const brokerUrl = z
  .string()
  .check(z.regex(/^mqtts:\/\/[^/:]+:\d{1,5}\/?$/, "must be mqtts://<host>:<port>/ with an explicit port"));
const jwtPublicKeyPem = z.string().check(z.minLength(1), z.maxLength(16_384));
const validitySeconds = z
  .int()
  .check(z.minimum(MIN_CERTIFICATE_VALIDITY_SECONDS), z.maximum(MAX_CERTIFICATE_VALIDITY_SECONDS));
const graceSeconds = z.int().check(z.minimum(0), z.maximum(MAX_CERTIFICATE_VALIDITY_SECONDS));
const deviceLimit = z.int().check(z.minimum(1));
const issuanceBudgetPerHour = z.int().check(z.minimum(1), z.maximum(3600));
const maxLiveCertificates = z.int().check(z.minimum(2), z.maximum(20));
/** Most metadata keys a realm may index for the device search (each is a view every device with it keeps). */
export const MAX_INDEXED_METADATA_KEYS = 3;
/** An indexed metadata key: a metadata key (at most 64 characters) without `#` or spaces. */
const indexedMetadataKeys = z
  .array(z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,64}$/, "is 1 to 64 of A-Z a-z 0-9 _ . : -")))
  .check(
    z.maxLength(MAX_INDEXED_METADATA_KEYS, `lists at most ${MAX_INDEXED_METADATA_KEYS} keys`),
    z.refine((keys) => new Set(keys).size === keys.length, "lists each key once"),
  );

export const realmSettings = z.object({
  realm_name: realmNameSchema,
  jwt_public_key_pem: jwtPublicKeyPem,
  broker_url: z.optional(brokerUrl),
  certificate_validity_seconds: z.optional(validitySeconds),
  /** How long a superseded certificate stays usable after its replacement is issued. */
  grace_seconds: z.optional(graceSeconds),
  device_limit: z.optional(deviceLimit),
  /** Billed certificate issuances per device and hour (a burst of this many, then evenly spread). */
  issuance_budget_per_hour: z.optional(issuanceBudgetPerHour),
  /** Certificates of one device live at once (current + superseded in grace); beyond, the oldest loses its grace. */
  max_live_certificates: z.optional(maxLiveCertificates),
  /** Metadata keys the device search filters on by exact value (`metadata_key`, `metadata_value`). */
  indexed_metadata_keys: z.optional(indexedMetadataKeys),
});

export const createRealmRequest = z.object({ data: realmSettings });
export type CreateRealmRequest = z.infer<typeof createRealmRequest>;

/**
 * `PATCH /v1/realms/{realm}` (merge-patch): change a realm's key (rotation), broker, validity, grace or limit.
 * `null` clears an optional setting (broker URL, device limit).
 */
export const updateRealmRequest = z.object({
  data: z.strictObject({
    jwt_public_key_pem: z.optional(jwtPublicKeyPem),
    broker_url: z.optional(z.nullable(brokerUrl)),
    certificate_validity_seconds: z.optional(validitySeconds),
    grace_seconds: z.optional(graceSeconds),
    device_limit: z.optional(z.nullable(deviceLimit)),
    issuance_budget_per_hour: z.optional(issuanceBudgetPerHour),
    max_live_certificates: z.optional(maxLiveCertificates),
    indexed_metadata_keys: z.optional(indexedMetadataKeys),
  }),
});
export type UpdateRealmRequest = z.infer<typeof updateRealmRequest>;

export const realmResponse = z.object({
  data: z.extend(
    z.required(realmSettings, {
      certificate_validity_seconds: true,
      grace_seconds: true,
      issuance_budget_per_hour: true,
      max_live_certificates: true,
      indexed_metadata_keys: true,
    }),
    {
      broker_url: z.string(),
      device_count: z.int(),
    },
  ),
});
export type RealmResponse = z.infer<typeof realmResponse>;
