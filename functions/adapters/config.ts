import * as z from "zod/mini";
import { DEFAULT_BUDGET_RATES } from "../core/aws-budget.ts";
import "../contracts/zod-messages.ts";
import { MAX_CERTIFICATE_VALIDITY_SECONDS, MIN_CERTIFICATE_VALIDITY_SECONDS } from "../contracts/realms.ts";
import { DEVICE_POLICY_NAME } from "../core/iot-policy.ts";

/** Environment variable names, shared with the CDK stack that sets them. */
export const ENV = {
  tableName: "TABLE_NAME",
  caArn: "CA_ARN",
  /** A CA the stage is moving away from: trusted and revoked at, never issued from (empty: none). */
  retiringCaArn: "CA_RETIRING_ARN",
  caSigningAlgorithm: "CA_SIGNING_ALGORITHM",
  devicePolicyName: "DEVICE_POLICY_NAME",
  defaultBrokerUrl: "DEFAULT_BROKER_URL",
  secretHashKey: "SECRET_HASH_KEY",
  secretHashKeySecretArn: "SECRET_HASH_KEY_SECRET_ARN",
  serviceVersion: "SERVICE_VERSION",
  defaultCertificateValiditySeconds: "DEFAULT_CERTIFICATE_VALIDITY_SECONDS",
  requestBudget: "REQUEST_BUDGET",
} as const;

/** A lane's rate: units a second, or null for unlimited. */
const laneRate = z.nullable(z.number().check(z.positive(), z.maximum(100_000)));
const budgetRatesSchema = z.object({
  issuance: laneRate,
  sweep: laneRate,
  burstSeconds: z.number().check(z.positive(), z.maximum(60)),
});

const jsonText = z.pipe(
  z.string(),
  z.transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.issues.push({ code: "custom", message: "must be JSON", input: text });
      return z.NEVER;
    }
  }),
);

const schema = z.object({
  [ENV.tableName]: z.string().check(z.minLength(1)),
  [ENV.caArn]: z.string().check(z.startsWith("arn:")),
  [ENV.retiringCaArn]: z.optional(z.string().check(z.startsWith("arn:"))),
  [ENV.caSigningAlgorithm]: z._default(
    z.enum([
      "SHA256WITHECDSA",
      "SHA384WITHECDSA",
      "SHA512WITHECDSA",
      "SHA256WITHRSA",
      "SHA384WITHRSA",
      "SHA512WITHRSA",
    ]),
    "SHA256WITHECDSA",
  ),
  [ENV.devicePolicyName]: z._default(z.string().check(z.minLength(1)), DEVICE_POLICY_NAME),
  [ENV.defaultBrokerUrl]: z.string().check(z.regex(/^mqtts:\/\/[^/:]+:\d+\/?$/, "mqtts://<host>:<port>/")),
  /** Base64 of at least 32 random bytes: the HMAC key credentials secrets are stored under (local runs). */
  [ENV.secretHashKey]: z.optional(
    z
      .string()
      .check(z.refine((v) => Buffer.from(v, "base64").length >= 32, "must be base64 of at least 32 bytes")),
  ),
  /** On AWS: the Secrets Manager secret holding that key (its string's UTF-8 bytes, at least 32). */
  [ENV.secretHashKeySecretArn]: z.optional(z.string().check(z.startsWith("arn:"))),
  [ENV.serviceVersion]: z._default(z.string(), "0.1.0"),
  /** Validity of realms that do not set their own. */
  [ENV.defaultCertificateValiditySeconds]: z._default(
    z.pipe(
      z.coerce.number(),
      z.int().check(z.minimum(MIN_CERTIFICATE_VALIDITY_SECONDS), z.maximum(MAX_CERTIFICATE_VALIDITY_SECONDS)),
    ),
    MAX_CERTIFICATE_VALIDITY_SECONDS,
  ),
  /**
   * The lanes' rates under the account's AWS quotas (core/aws-budget.ts), as JSON: units a second for issuance
   * and the sweeper (null: unlimited, the local emulator), and the buckets' depth in seconds. The stack computes
   * it from the stage's quotas (core/aws-quotas.ts); the default is what AWS's default quotas give.
   */
  [ENV.requestBudget]: z._default(z.pipe(jsonText, budgetRatesSchema), DEFAULT_BUDGET_RATES),
});

const withKey = schema.check(
  z.refine((c) => (c[ENV.secretHashKey] === undefined) !== (c[ENV.secretHashKeySecretArn] === undefined), {
    message: `set exactly one of ${ENV.secretHashKey} and ${ENV.secretHashKeySecretArn}`,
  }),
);

export type Config = z.infer<typeof schema>;

/** Parses the function's environment once, at cold start; a misconfigured function fails fast and says why. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = withKey.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`Tether is misconfigured: ${problems}`);
  }
  return parsed.data;
}
