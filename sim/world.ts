import { createMemoryWorld, ManualClock, type MemoryWorld } from "../functions/adapters/memory/index.ts";
import { decide, ShardedBudget } from "../functions/core/aws-budget.ts";
import {
  type AwsQuotas,
  DEFAULT_BUDGET_POLICY,
  defaultQuotas,
  laneRates,
} from "../functions/core/aws-quotas.ts";
import { DependencyUnavailableError, ThrottledError } from "../functions/core/errors.ts";
import type { PairingDeps } from "../functions/core/pairing-deps.ts";
import type { TransportRegistry } from "../functions/core/ports/transport-registry.ts";
import { FastCertificateAuthority } from "./fast-x509.ts";

/**
 * The simulated AWS account: the in-memory adapters (the same DeviceStore the unit tests hold to DynamoDB's
 * behaviour), a fast Private CA, and AWS's per-operation request quotas modelled as AWS enforces them (a token
 * bucket per operation, one second deep), all scaled by `scale` together with the fleet. An outage makes every
 * call to a service fail as unavailable.
 */
export interface SimWorld {
  readonly deps: PairingDeps;
  readonly memory: MemoryWorld;
  readonly clock: ManualClock;
  readonly ca: FastCertificateAuthority;
  /** Calls AWS refused for being over a quota, per operation (the budget should keep this at 0). */
  readonly throttledByAws: Map<string, number>;
  /** Services down until the given time (ms), e.g. `acm-pca` or `iot`. */
  readonly outages: Map<string, { from: number; until: number }>;
  /** Called with each IoT certificate removal (the sweeper's, a compensation's, a purge's). */
  onRemoved: (certificateId: string, at: number) => void;
  /** The issuance and sweep lanes' rates, units a second, at this scale. */
  readonly rates: { readonly issuance: number; readonly sweep: number };
  /**
   * The clock AWS's quotas and outages are judged by: the world's, or a sweeper run's own while it runs (a run
   * spends its 50 s in virtual time, atomically between two fleet events).
   */
  awsClock: { now(): Date };
}

/** Which AWS operations each transport call makes (adapters/iot-transport-registry.ts). */
const TRANSPORT_CALLS: Readonly<Record<string, readonly string[]>> = {
  registerCertificate: ["iot:RegisterCertificateWithoutCA"],
  attachCertificate: ["iot:AttachPolicy", "iot:AttachThingPrincipal"],
  removeCertificate: [
    "iot:DescribeCertificate",
    "iot:UpdateCertificate",
    "iot:DetachPolicy",
    "iot:DetachThingPrincipal",
    "iot:DeleteCertificate",
  ],
  deactivateCertificate: ["iot:UpdateCertificate"],
  certificateArn: ["iot:DescribeCertificate"],
};

export function simWorld(scale: number, start: Date, raised: Partial<AwsQuotas> = {}): SimWorld {
  const clock = new ManualClock(start);
  const quotas: AwsQuotas = { ...defaultQuotas(), ...raised };
  const lanes = laneRates(quotas, DEFAULT_BUDGET_POLICY);
  const rates = { issuance: lanes.issuance.perSecond * scale, sweep: lanes.sweep.perSecond * scale };
  const memory = createMemoryWorld({ clock });
  const throttledByAws = new Map<string, number>();
  const outages = new Map<string, { from: number; until: number }>();
  const tats = new Map<string, number>();
  const gate = (operation: string) => {
    const now = world.awsClock.now().getTime();
    const outage = outages.get(operation.split(":")[0] ?? "");
    if (outage && now >= outage.from && now < outage.until) throw new DependencyUnavailableError(5);
    const quota = quotas[operation as keyof typeof quotas];
    if (quota === undefined) return;
    // AWS's own throttle: the operation's quota at this scale, a bucket as deep in calls as the full-scale one
    // second (so 1/scale seconds deep here: a burst is a number of calls, and it must not shrink below one).
    const perSecond = quota * scale;
    const count = Math.max(1, Math.floor(quota));
    const d = decide(tats.get(operation), now, 1, { count, periodMs: (count / perSecond) * 1000 });
    if (!d.admitted) {
      throttledByAws.set(operation, (throttledByAws.get(operation) ?? 0) + 1);
      throw new ThrottledError(1);
    }
    tats.set(operation, d.tat);
  };
  const ca = new FastCertificateAuthority(clock, (operation) => gate(operation));
  const world: SimWorld = {
    awsClock: clock,
    deps: undefined as unknown as PairingDeps,
    memory,
    clock,
    ca,
    throttledByAws,
    outages,
    onRemoved: () => {},
    rates,
  };
  const transport = new Proxy(memory.transport, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      const calls = TRANSPORT_CALLS[String(property)] ?? [];
      return async (...args: unknown[]) => {
        for (const operation of calls) gate(operation);
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (property === "removeCertificate")
          world.onRemoved(String(args[2]), world.awsClock.now().getTime());
        return result;
      };
    },
  }) as TransportRegistry;
  // One cell per lane holding the four full-scale cells' burst, in units: at a twentieth of the rates, four cells
  // of two seconds would each hold less than one unit, and every other arrival would be refused for it. Bursts are
  // counts of requests, so they keep their size and last 1/scale as long.
  const budget = new ShardedBudget(
    memory.budgetCells,
    {
      issuance: rates.issuance,
      sweep: rates.sweep,
      burstSeconds: DEFAULT_BUDGET_POLICY.burstSeconds / scale,
    },
    { shards: 1 },
  );
  Object.assign(world, { deps: { ...memory.deps, ca, transport, budget } });
  return world;
}
