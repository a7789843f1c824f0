import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as z from "zod";
import {
  MAX_CERTIFICATE_VALIDITY_SECONDS,
  MIN_CERTIFICATE_VALIDITY_SECONDS,
} from "../functions/contracts/realms.ts";
import type { BudgetRates } from "../functions/core/aws-budget.ts";
import {
  AWS_OPERATION_NAMES,
  type AwsQuotas,
  DEFAULT_BUDGET_POLICY,
  defaultQuotas,
  laneRates,
} from "../functions/core/aws-quotas.ts";

/** Private CA's usage modes, as the stage settings spell them. */
export const CA_USAGE_MODES = {
  "short-lived": "SHORT_LIVED_CERTIFICATE",
  "general-purpose": "GENERAL_PURPOSE",
} as const;

const caSettingsSchema = z.discriminatedUnion("mode", [
  z.object({
    mode: z.literal("create"),
    /**
     * Fixed at the CA's creation. short-lived: $50 a month and a flat price per certificate; general-purpose:
     * $400 a month and a per-certificate price that falls with the month's volume.
     */
    usage: z.enum(["short-lived", "general-purpose"]).default("short-lived"),
    commonName: z.string().min(1).max(64).default("Tether device root CA"),
  }),
  z.object({
    mode: z.literal("import"),
    arn: z.string().regex(/^arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:\d{12}:certificate-authority\/[0-9a-f-]+$/),
    signingAlgorithm: z.enum(["SHA256WITHECDSA", "SHA384WITHECDSA", "SHA256WITHRSA", "SHA384WITHRSA"]),
  }),
]);
export type CaSettings = z.infer<typeof caSettingsSchema>;

/** Why a retiring CA cannot stand beside the issuing one, or undefined when it can. */
export function retiringCaProblem(issuing: CaSettings, retiring: CaSettings): string | undefined {
  if (issuing.mode === "create" && retiring.mode === "create" && issuing.usage === retiring.usage) {
    return `the issuing CA is already the stack's ${issuing.usage} CA: a created CA's mode is fixed, so a move creates a CA of the other usage (or imports one) and retires this one`;
  }
  if (issuing.mode === "import" && retiring.mode === "import" && issuing.arn === retiring.arn) {
    return "the retiring CA is the issuing CA";
  }
  return undefined;
}

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
  /**
   * The CA new certificates come from: one the stack creates, in the usage mode given, or an existing one
   * imported by ARN. Either mode issues Tether's certificates of 7 days at most; the price differs
   * (`tether cost` prices both for a fleet and names the cheaper one).
   */
  certificateAuthority: caSettingsSchema.default({
    mode: "create",
    usage: "short-lived",
    commonName: "Tether device root CA",
  }),
  /**
   * The CA the stage is moving away from (a CA's mode is fixed when it is created, so changing it means a new
   * CA): still trusted by verify and asked to revoke the certificates it issued, never to issue. Keep it for at
   * least the longest certificate validity (7 days) after the deploy that makes the new CA the issuing one,
   * then remove it (README, "Changing the CA").
   */
  retiringCertificateAuthority: caSettingsSchema.optional(),
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
   * The account's AWS request quotas, per operation, in requests a second (Service Quotas shows yours): the
   * defaults are AWS's (functions/core/aws-quotas.ts cites each). Issuance and the sweeper admit their work
   * against what they give (the request budget); raise these when AWS raises yours.
   */
  quotas: z
    .object(
      Object.fromEntries(
        AWS_OPERATION_NAMES.map((name) => [name, z.number().positive().max(100_000).optional()]),
      ),
    )
    .strict()
    .default({}),
  /**
   * How the quotas are handed out: `headroom` is the part of every quota the budget admits work against (the rest
   * is left to operator actions, compensations and other tools in the account), `burstSeconds` how much of a
   * lane's rate may be spent at once after a quiet spell.
   */
  budget: z
    .object({
      headroom: z.number().gt(0).max(1).default(DEFAULT_BUDGET_POLICY.headroom),
      burstSeconds: z.number().min(1).max(60).default(DEFAULT_BUDGET_POLICY.burstSeconds),
    })
    .strict()
    .default({ ...DEFAULT_BUDGET_POLICY }),
  /** Replaced by `quotas` and `budget`: the sweeper's pace is now its share of the quotas. */
  sweeper: z
    .unknown()
    .optional()
    .refine((value) => value === undefined, {
      message:
        "sweeper.itemsPerSecond is gone: the sweeper's pace is its share of the account's quotas; set `quotas` (per operation) and `budget` instead",
    }),
  reservedConcurrency: z
    .object({
      presence: z.number().int().min(1).max(1000).optional(),
      metadata: z.number().int().min(1).max(1000).optional(),
    })
    .default({}),
});

export type StageSettings = z.infer<typeof stageSettingsSchema>;

/** The account's quotas as the stage states them, AWS's defaults for the rest. */
export function stageQuotas(settings: StageSettings): AwsQuotas {
  return { ...defaultQuotas(), ...(settings.quotas as Partial<AwsQuotas>) };
}

/** The request budget's lane rates the stage's quotas and policy give (the functions' REQUEST_BUDGET). */
export function stageBudgetRates(settings: StageSettings): BudgetRates {
  const rates = laneRates(stageQuotas(settings), settings.budget);
  return {
    issuance: rates.issuance.perSecond,
    sweep: rates.sweep.perSecond,
    burstSeconds: settings.budget.burstSeconds,
  };
}

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
      const retiring = settings.retiringCertificateAuthority;
      const caProblem = retiring && retiringCaProblem(settings.certificateAuthority, retiring);
      if (caProblem) {
        context.addIssue({ code: "custom", path: ["retiringCertificateAuthority"], message: caProblem });
      }
    })
    .safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `tether.${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`Invalid stage settings (CDK context "tether"):\n${problems}`);
  }
  return parsed.data;
}
