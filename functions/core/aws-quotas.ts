import type { BudgetLane } from "./ports/request-budget.ts";

/**
 * The account's AWS request quotas Tether's work meets, and what each kind of work (a lane of the request budget,
 * core/aws-budget.ts) may spend of them.
 *
 * Every AWS IoT and Private CA control-plane operation has its own per-account, per-region request rate; a call
 * over it is throttled. Each lane is a fixed bundle of calls, so its admissible rate is the lowest
 * `quota × headroom ÷ calls` over the operations it uses; the headroom is left to everything that is not
 * budgeted. Read at synth (infra/config.ts) and by the simulator; the functions get the resulting rates only.
 */

/** An AWS operation with a request-rate quota (requests per second), and where its default comes from. */
export interface AwsOperation {
  readonly quota: number;
  readonly source: string;
}

const PCA_QUOTAS =
  "Service Quotas defaults for AWS Private Certificate Authority (acm-pca; quota codes L-CAFB4993, L-1725E639, L-8842A328), as a public dump of the Service Quotas list gives them, checked 2026-12";
const IOT_QUOTAS =
  "AWS IoT Core endpoints and quotas, API throttling limits (general/latest/gr/iot-core.html#throttling-limits), as the aws-samples Thingpress project lists them, and the same dump of the Service Quotas list (L-F64D1AA6, L-B5EE4A16), checked 2026-12";
const ASSUMED =
  "not found in the sources we could read (Service Quotas code L-77B523DC / L-EEB8F0B1 exist, their defaults were not listed): assumed equal to the other certificate calls' 10; set the account's value";

/** Default quotas (requests per second); stage settings override each (`quotas` in cdk.json). */
export const DEFAULT_AWS_QUOTAS = {
  "acm-pca:IssueCertificate": { quota: 25, source: PCA_QUOTAS },
  "acm-pca:GetCertificate": { quota: 75, source: PCA_QUOTAS },
  "acm-pca:RevokeCertificate": { quota: 20, source: PCA_QUOTAS },
  "iot:RegisterCertificateWithoutCA": { quota: 10, source: IOT_QUOTAS },
  "iot:AttachPolicy": { quota: 15, source: IOT_QUOTAS },
  "iot:AttachThingPrincipal": { quota: 100, source: IOT_QUOTAS },
  "iot:DescribeCertificate": { quota: 10, source: IOT_QUOTAS },
  "iot:DetachPolicy": { quota: 15, source: `${IOT_QUOTAS}; assumed equal to AttachPolicy` },
  "iot:DetachThingPrincipal": { quota: 100, source: IOT_QUOTAS },
  "iot:UpdateCertificate": { quota: 10, source: ASSUMED },
  "iot:DeleteCertificate": { quota: 10, source: ASSUMED },
} as const satisfies Record<string, AwsOperation>;

export type AwsOperationName = keyof typeof DEFAULT_AWS_QUOTAS;
export type AwsQuotas = Readonly<Record<AwsOperationName, number>>;

export const AWS_OPERATION_NAMES = Object.keys(DEFAULT_AWS_QUOTAS) as AwsOperationName[];

/** The default quotas as plain numbers. */
export function defaultQuotas(): AwsQuotas {
  return Object.fromEntries(
    AWS_OPERATION_NAMES.map((name) => [name, DEFAULT_AWS_QUOTAS[name].quota]),
  ) as AwsQuotas;
}

/**
 * What one unit of each lane calls (core/use-cases: issue-credentials and sweep; adapters: the IoT registry
 * and Private CA): an issuance is IssueCertificate, GetCertificate (polled; two calls on a typical issue),
 * RegisterCertificateWithoutCA, AttachPolicy and AttachThingPrincipal; a swept certificate is DescribeCertificate,
 * UpdateCertificate (INACTIVE), DetachPolicy, DetachThingPrincipal, DeleteCertificate and, unless expired,
 * RevokeCertificate. A swept intent that got as far as a certificate also calls GetCertificate once, an issuance
 * operation: it is left out of the sweep lane (which would otherwise share it with issuance) and comes out of
 * GetCertificate's headroom, which is wide: issuance spends 16 of its 75 a second at the default quotas, and such
 * intents are issuances that died between IssueCertificate and their record, a handful a day.
 */
export const LANE_CALLS: Readonly<Record<BudgetLane, Partial<Record<AwsOperationName, number>>>> = {
  issuance: {
    "acm-pca:IssueCertificate": 1,
    "acm-pca:GetCertificate": 2,
    "iot:RegisterCertificateWithoutCA": 1,
    "iot:AttachPolicy": 1,
    "iot:AttachThingPrincipal": 1,
  },
  sweep: {
    "iot:DescribeCertificate": 1,
    "iot:UpdateCertificate": 1,
    "iot:DetachPolicy": 1,
    "iot:DetachThingPrincipal": 1,
    "iot:DeleteCertificate": 1,
    "acm-pca:RevokeCertificate": 1,
  },
};

export interface BudgetPolicy {
  /** The share of every quota the lanes may use; the rest is left to work that is not budgeted. */
  readonly headroom: number;
  /** How many seconds of a lane's rate may be spent at once after it was idle (the bucket's depth). */
  readonly burstSeconds: number;
}

/**
 * One second of burst: a lane spends at most its rate × 1 s at once, which stays inside one second of its binding
 * quota (8 of RegisterCertificateWithoutCA's 10). AWS documents rates, not how deep its buckets are; with two
 * seconds a burst of 16 could be throttled by a bucket that holds one second's 10 (the simulator showed it).
 */
export const DEFAULT_BUDGET_POLICY: BudgetPolicy = { headroom: 0.8, burstSeconds: 1 };

/** A lane's admissible rate (units a second), and the operation that binds it. */
export interface LaneRate {
  readonly perSecond: number;
  readonly boundBy: AwsOperationName;
}

/**
 * Each lane's rate under the quotas: the lowest `quota × headroom ÷ calls` over its operations. The two lanes
 * call disjoint operations (a test holds them to it), so each lane's share is reserved by construction: the
 * sweeper never starves issuance and is never starved by it, however hard either is pushed. The headroom (20 %
 * by default) is what calls outside the budget use: an issuance's compensation (the sweep lane's calls), an
 * operator's revoke or unregister, registration's CreateThing, other tools in the account. With the default
 * quotas: issuance 8 a second (bound by RegisterCertificateWithoutCA's 10), sweep 8 a second (bound by
 * DescribeCertificate's 10).
 */
export function laneRates(
  quotas: AwsQuotas,
  policy: Pick<BudgetPolicy, "headroom">,
): Record<BudgetLane, LaneRate> {
  const rateOf = (lane: BudgetLane): LaneRate => {
    let best: LaneRate | undefined;
    for (const [name, calls] of Object.entries(LANE_CALLS[lane]) as [AwsOperationName, number][]) {
      const perSecond = (quotas[name] * policy.headroom) / calls;
      if (!best || perSecond < best.perSecond) best = { perSecond, boundBy: name };
    }
    if (!best) throw new Error(`lane ${lane} calls nothing`);
    return best;
  };
  return { issuance: rateOf("issuance"), sweep: rateOf("sweep") };
}
