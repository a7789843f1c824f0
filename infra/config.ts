import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as z from "zod";
import {
  MAX_CERTIFICATE_VALIDITY_SECONDS,
  MIN_CERTIFICATE_VALIDITY_SECONDS,
} from "../functions/contracts/realms.ts";
import { SWEEP_DEFAULTS } from "../functions/core/use-cases/sweep.ts";

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
  /**
   * The sweeper's pace, in items a second: its share of the account's per-second IoT and Private CA quotas
   * (functions/core/use-cases/sweep.ts, SWEEP_DEFAULTS, says which and why 8). Raise it with those quotas.
   */
  sweeper: z
    .object({ itemsPerSecond: z.number().positive().max(1000).default(SWEEP_DEFAULTS.itemsPerSecond) })
    .default({ itemsPerSecond: SWEEP_DEFAULTS.itemsPerSecond }),
  reservedConcurrency: z
    .object({
      presence: z.number().int().min(1).max(1000).optional(),
      metadata: z.number().int().min(1).max(1000).optional(),
    })
    .default({}),
});

export type StageSettings = z.infer<typeof stageSettingsSchema>;

/**
 * Which resource types Tether's stacks use each region lacks (generated from cfn-lint's per-region
 * CloudFormation schemas by `npm run lint:templates -- --write`; CI fails when it is stale).
 */
const REGION_SUPPORT = JSON.parse(
  readFileSync(resolve(import.meta.dirname, "region-support.json"), "utf8"),
) as { source: string; missingByRegion: Record<string, string[]> };

const SERVICES: Record<string, string> = {
  "AWS::Pipes": "EventBridge Pipes (credential events)",
  "AWS::CloudFront": "CloudFront (the dashboard)",
};

/** Why the app cannot be deployed to `region`, or undefined when it can. */
export function regionProblem(region: string): string | undefined {
  const missing = REGION_SUPPORT.missingByRegion[region];
  if (missing === undefined)
    return `${region} is not a region CloudFormation knows (${REGION_SUPPORT.source})`;
  if (missing.length === 0) return undefined;
  const services = [
    ...new Set(missing.map((type) => SERVICES[type.split("::").slice(0, 2).join("::")] ?? type)),
  ];
  return `${region} lacks ${services.join(", ")}: ${missing.join(", ")} (${REGION_SUPPORT.source})`;
}

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
  const parsed = stageSettingsSchema
    .superRefine((settings, context) => {
      const problem = settings.region === undefined ? undefined : regionProblem(settings.region);
      if (problem) context.addIssue({ code: "custom", path: ["region"], message: problem });
    })
    .safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `tether.${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`Invalid stage settings (CDK context "tether"):\n${problems}`);
  }
  return parsed.data;
}
