import * as z from "zod";
import {
  MAX_CERTIFICATE_VALIDITY_SECONDS,
  MIN_CERTIFICATE_VALIDITY_SECONDS,
} from "../functions/contracts/realms.ts";

/**
 * Stage settings, read from CDK context (`cdk.json` or `-c tether=<json>`) and validated before anything is
 * built: a typo fails the synth with a message instead of deploying something unintended.
 */
export const stageSettingsSchema = z.object({
  /** `dev` stacks may be destroyed with their data; any other stage retains the table and the CA. */
  stage: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,15}$/)
    .default("dev"),
  account: z
    .string()
    .regex(/^\d{12}$/)
    .optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/)
    .optional(),
  certificateAuthority: z
    .discriminatedUnion("mode", [
      z.object({
        mode: z.literal("create"),
        commonName: z.string().min(1).max(64).default("Tether device root CA"),
      }),
      z.object({
        mode: z.literal("import"),
        arn: z.string().regex(/^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[0-9a-f-]+$/),
        signingAlgorithm: z.enum(["SHA256WITHECDSA", "SHA384WITHECDSA", "SHA256WITHRSA", "SHA384WITHRSA"]),
      }),
    ])
    .default({ mode: "create", commonName: "Tether device root CA" }),
  /** Default validity of device certificates, for realms that do not set their own. */
  certificateValiditySeconds: z
    .number()
    .int()
    .min(MIN_CERTIFICATE_VALIDITY_SECONDS)
    .max(MAX_CERTIFICATE_VALIDITY_SECONDS)
    .default(MAX_CERTIFICATE_VALIDITY_SECONDS),
  logRetentionDays: z
    .union([z.literal(7), z.literal(14), z.literal(30), z.literal(90), z.literal(180), z.literal(365)])
    .default(30),
  throttling: z
    .object({
      rateLimit: z.number().positive().default(100),
      burstLimit: z.number().int().positive().default(200),
    })
    .default({ rateLimit: 100, burstLimit: 200 }),
  customDomain: z
    .object({ domainName: z.string().min(3), certificateArn: z.string().startsWith("arn:") })
    .optional(),
  alarmEmail: z.string().email().optional(),
  /**
   * Reserved concurrency for the functions a device can trigger at will (its lifecycle events and metadata
   * reports), so a flood of them cannot take the account's concurrency from the pairing API. Off by default:
   * Lambda keeps 100 executions unreserved, and a new account's quota is often 10, where any reservation
   * fails the first deploy. Turn it on once the account's concurrency quota is raised (README).
   */
  reservedConcurrency: z
    .object({
      presence: z.number().int().min(1).max(1000).optional(),
      metadata: z.number().int().min(1).max(1000).optional(),
    })
    .default({}),
});

export type StageSettings = z.infer<typeof stageSettingsSchema>;

/** Reads the `tether` context: an object from cdk.json, or a JSON string from `cdk deploy -c tether='{…}'`. */
export function parseStageSettings(context: unknown): StageSettings {
  let value = context ?? {};
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw new Error(`Invalid stage settings (CDK context "tether"): not JSON: ${value}`);
    }
  }
  const parsed = stageSettingsSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `tether.${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`Invalid stage settings (CDK context "tether"):\n${problems}`);
  }
  return parsed.data;
}
