import { randomBytes } from "node:crypto";
import { exportSPKI, generateKeyPair } from "jose";
import { type CaMode, estimateCost } from "../cli/cost.ts";
import { ManualClock, VirtualSweepSchedule } from "../functions/adapters/memory/index.ts";
import { SWEEP_SHARDS } from "../functions/adapters/table-schema.ts";
import { randomDeviceId } from "../functions/contracts/ids.ts";
import type { AwsQuotas } from "../functions/core/aws-quotas.ts";
import { DomainError } from "../functions/core/errors.ts";
import type { Realm } from "../functions/core/model.ts";
import { patchDevice } from "../functions/core/use-cases/device-status.ts";
import { issueCredentials } from "../functions/core/use-cases/issue-credentials.ts";
import { createRealm, deleteRealm } from "../functions/core/use-cases/realms.ts";
import { registerDevice } from "../functions/core/use-cases/register-device.ts";
import { measureBacklog, SWEEP_DEFAULTS, sweep } from "../functions/core/use-cases/sweep.ts";
import { verifyCredentials } from "../functions/core/use-cases/verify-credentials.ts";
import { errorResponse } from "../functions/http/errors.ts";
import { retryAfterWait } from "../sdk/pairing-client.ts";
import { csrPem, deviceKey } from "./fast-x509.ts";
import { simWorld } from "./world.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const VALIDITY_SECONDS = 7 * 86_400;
const REALM = "fleet";

/** What a scenario does to the fleet, in full-scale numbers (the engine scales devices and quotas). */
export interface ScenarioSpec {
  readonly name: string;
  /** Devices at full scale. */
  readonly devices: number;
  /** Days simulated after the fleet is in its steady state (the warm-up is not counted). */
  readonly days: number;
  /** Devices start paired, their certificates' ages spread over a renewal period (false: first pairing). */
  readonly warm: boolean;
  /** First pairings arrive spread over this many hours from the start (cold fleets). */
  readonly arrivalHours?: number;
  /** A service down for `hours` from `atDay` (`acm-pca` or `iot`). */
  readonly outage?: { readonly service: string; readonly atDay: number; readonly hours: number };
  /** The realm is deleted at this day; the purge is measured. */
  readonly purgeAtDay?: number;
  /** A share of devices goes offline once, for one to five days. */
  readonly offlineShare: number;
  /** A share of devices is inhibited (and its certificates revoked) at this day. */
  readonly inhibit?: { readonly share: number; readonly atDay: number };
}

export interface ScenarioResult {
  readonly name: string;
  readonly devices: number;
  readonly scale: string;
  readonly simulatedDays: number;
  readonly issued: number;
  readonly superseded: number;
  readonly swept: number;
  readonly pastGraceActiveP99Seconds: number;
  readonly pastGraceActiveMaxSeconds: number;
  readonly dueBacklogEnd: number;
  readonly http5xx: number;
  readonly throttled429: number;
  readonly share429: number;
  readonly longestWaitHours: number;
  readonly drainHours: number;
  readonly devicesExpiredWhileOnline: number;
  readonly unpairedAtEnd: number;
  readonly throttledByAws: Readonly<Record<string, number>>;
  readonly lastPairedHours: number;
  /** The CA mode the bill is priced in. */
  readonly caMode: CaMode;
  readonly costPerMonthUsd: number;
  readonly series: readonly { readonly hour: number; readonly backlog: number; readonly rate429: number }[];
}

interface Device {
  readonly id: string;
  readonly secret: string;
  readonly key: ReturnType<typeof deviceKey>;
  certificateId: string | undefined;
  certificatePem: string | undefined;
  notAfter: number;
  /** When it first asked for the renewal it is trying to get (undefined: not waiting). */
  waitingSince: number | undefined;
  attempts: number;
  offline: { from: number; until: number } | undefined;
  inhibited: boolean;
  expiredWhileOnline: boolean;
  nonce: number;
  csr: string | undefined;
}

/** A binary heap of (time, device index) events. */
class Events {
  readonly #at: number[] = [];
  readonly #who: number[] = [];
  get size() {
    return this.#at.length;
  }
  push(at: number, who: number): void {
    const a = this.#at;
    const w = this.#who;
    a.push(at);
    w.push(who);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as number) <= at) break;
      a[i] = a[p] as number;
      w[i] = w[p] as number;
      i = p;
    }
    a[i] = at;
    w[i] = who;
  }
  peek(): number {
    return this.#at[0] ?? Number.POSITIVE_INFINITY;
  }
  pop(): { at: number; who: number } {
    const a = this.#at;
    const w = this.#who;
    const top = { at: a[0] as number, who: w[0] as number };
    const lastAt = a.pop() as number;
    const lastWho = w.pop() as number;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mAt = lastAt;
        if (l < a.length && (a[l] as number) < mAt) {
          m = l;
          mAt = a[l] as number;
        }
        if (r < a.length && (a[r] as number) < mAt) m = r;
        if (m === i) break;
        a[i] = a[m] as number;
        w[i] = w[m] as number;
        i = m;
      }
      a[i] = lastAt;
      w[i] = lastWho;
    }
    return top;
  }
}

/** A seeded generator, so a scenario is the same run each time (the use-cases' own randomness aside). */
function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function percentile(values: Float64Array, p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

/**
 * Runs one scenario: the production use-cases (register, issue, verify, inhibit, delete realm, sweep) on the
 * in-memory adapters, a virtual clock, devices behaving as the SDK does (renew at `renew_after`, retry honouring
 * `Retry-After` with jitter, back off on errors, some offline for days), the sweeper every minute for its 50 s.
 */
export async function runScenario(
  spec: ScenarioSpec,
  options: {
    readonly scale: number;
    readonly seed?: number;
    readonly onProgress?: (done: number) => void;
    /** The CA mode the month's bill is priced in (default short-lived, the stage's default). */
    readonly caMode?: CaMode;
    /** The account's quotas where they differ from AWS's defaults (a stage's `quotas` setting). */
    readonly quotas?: Partial<AwsQuotas>;
  },
): Promise<ScenarioResult> {
  const { scale } = options;
  const random = seeded(options.seed ?? 7);
  const start = new Date("2027-01-04T00:00:00Z");
  const world = simWorld(scale, start, options.quotas);
  const { deps, clock } = world;
  const count = Math.max(1, Math.round(spec.devices * scale));
  const { publicKey } = await generateKeyPair("ES256");
  await createRealm(deps, {
    realm_name: REALM,
    jwt_public_key_pem: await exportSPKI(publicKey),
    certificate_validity_seconds: VALIDITY_SECONDS,
  } as Parameters<typeof createRealm>[1]);
  const realm = (await deps.store.getRealm(REALM)) as Realm;

  const devices: Device[] = [];
  for (let i = 0; i < count; i++) {
    const id = randomDeviceId();
    const { credentialsSecret } = await registerDevice(deps, realm, { hw_id: id });
    devices.push({
      id,
      secret: credentialsSecret,
      key: deviceKey(),
      certificateId: undefined,
      certificatePem: undefined,
      notAfter: 0,
      waitingSince: undefined,
      attempts: 0,
      offline: undefined,
      inhibited: false,
      expiredWhileOnline: false,
      nonce: 0,
      csr: undefined,
    });
  }

  // Warm fleets start in their steady state: each device paired once, at a moment spread over one renewal period
  // before the measured window (the warm-up runs through the same engine, and is not counted).
  const renewPeriod = (VALIDITY_SECONDS * 1000 * 2) / 3;
  const warmup = spec.warm ? renewPeriod : 0;
  const t0 = start.getTime() + warmup;
  const end = t0 + spec.days * DAY;
  const events = new Events();
  devices.forEach((_, i) => {
    const at = spec.warm
      ? start.getTime() + random() * renewPeriod * 0.95
      : t0 + random() * (spec.arrivalHours ?? 1) * HOUR;
    events.push(at, i);
  });
  for (const d of devices) {
    if (random() < spec.offlineShare) {
      const from = t0 + random() * spec.days * DAY;
      d.offline = { from, until: from + (1 + random() * 4) * DAY };
    }
  }
  if (spec.outage) {
    const from = t0 + spec.outage.atDay * DAY;
    world.outages.set(spec.outage.service, { from, until: from + spec.outage.hours * HOUR });
  }

  // What is measured.
  const deadlineOf = new Map<string, number>();
  const pastGrace: number[] = [];
  let issued = 0;
  let superseded = 0;
  let http5xx = 0;
  let throttled = 0;
  let attempts = 0;
  let longestWait = 0;
  let lastPaired = 0;
  let hour429 = 0;
  let hourAttempts = 0;
  const _measuring = () => clock.now().getTime() >= t0;
  world.onRemoved = (certificateId, at) => {
    const deadline = deadlineOf.get(certificateId);
    if (deadline === undefined) return;
    deadlineOf.delete(certificateId);
    if (at >= t0) pastGrace.push(Math.max(0, (at - deadline) / 1000));
  };

  const pair = async (d: Device, now: number): Promise<number | undefined> => {
    // The SDK makes one CSR for a renewal and sends it again on each of its retries (six), then starts over.
    if (d.csr === undefined || d.attempts % 6 === 0) {
      d.nonce++;
      d.csr = csrPem(d.key, `${REALM}/${d.id}`, `n${d.nonce}`);
    }
    const csr = d.csr;
    const call = { realmName: REALM, deviceIdText: d.id, secret: d.secret, protocol: "astarte_mqtt_v1" };
    const meta = { sourceIp: undefined, requestId: randomBytes(6).toString("hex") };
    attempts++;
    hourAttempts++;
    try {
      const result = await issueCredentials(deps, call, () => ({ csr }), meta);
      if (now >= t0) issued++;
      if (d.certificateId) {
        if (now >= t0) superseded++;
        // The superseded certificate must leave IoT by the end of its grace (or its expiry, if sooner).
        const prior = deadlineOf.get(d.certificateId);
        deadlineOf.set(d.certificateId, Math.min(prior ?? Infinity, now + realm.graceSeconds * 1000));
      }
      d.certificateId = result.record.iotCertificateId;
      d.certificatePem = result.certificatePem;
      d.notAfter = Date.parse(result.record.notAfter);
      deadlineOf.set(d.certificateId, d.notAfter);
      if (d.waitingSince !== undefined && now >= t0) {
        longestWait = Math.max(longestWait, now - d.waitingSince);
      }
      d.waitingSince = undefined;
      d.attempts = 0;
      d.csr = undefined;
      lastPaired = Math.max(lastPaired, now);
      return result.renewAfter.getTime();
    } catch (error) {
      const response = errorResponse(error, "sim");
      const status = response.statusCode ?? 500;
      d.waitingSince ??= now;
      d.attempts++;
      if (status === 403) {
        d.inhibited = true;
        return undefined;
      }
      if (status === 429) {
        if (now >= t0) throttled++;
        hour429++;
      } else if (status >= 500 && !(error instanceof DomainError && status === 503)) {
        if (now >= t0) http5xx++;
      }
      const retryAfter = Number((response.headers as Record<string, string> | undefined)?.["retry-after"]);
      // The SDK (its own function): Retry-After plus a jitter of up to as long again, at most 30 s; otherwise
      // exponential backoff with full jitter; after six attempts its renewal timer tries again a minute later.
      const backoff =
        Number.isFinite(retryAfter) && retryAfter > 0
          ? retryAfterWait(retryAfter, random())
          : random() * Math.min(60_000, 500 * 2 ** Math.min(d.attempts, 10));
      return now + backoff + (d.attempts % 6 === 0 ? 60_000 : 0) - 1;
    }
  };

  const series: { hour: number; backlog: number; rate429: number }[] = [];
  // The sweeper's schedule: its virtual-time adapter, a run a minute (core/ports/sweep-schedule.ts).
  const schedule = new VirtualSweepSchedule(SWEEP_DEFAULTS.periodSeconds * 1000, start.getTime() + 60_000);
  let nextSample = t0;
  const drainFrom = spec.outage ? t0 + (spec.outage.atDay * DAY + spec.outage.hours * HOUR) : undefined;
  let drainedAt: number | undefined;
  let purgeDone: number | undefined;
  const purgeAt = spec.purgeAtDay !== undefined ? t0 + spec.purgeAtDay * DAY : undefined;
  let purged = false;
  let inhibited = false;
  let swept = 0;

  const runSweep = async (at: number): Promise<void> => {
    // The run's own clock: it sleeps (waiting on its lane) in virtual time, from its scheduled start.
    const runClock = new ManualClock(new Date(at));
    const runDeps = { ...deps, clock: runClock };
    world.awsClock = runClock;
    const report = await sweep(runDeps, {
      shards: SWEEP_SHARDS,
      pageSize: SWEEP_DEFAULTS.pageSize,
      maxItems: Math.max(1, Math.floor(world.rates.sweep * SWEEP_DEFAULTS.runSeconds)),
      hasTime: () => runClock.now().getTime() < at + SWEEP_DEFAULTS.runSeconds * 1000,
      // One item at a time: scaled down, the lane admits an item every few seconds, and an item's calls take
      // ~0.3 s on AWS, so a run's items never overlap there either (calls here take no virtual time).
      concurrency: 1,
      sleep: async (ms) => runClock.advance(ms),
    }).finally(() => {
      world.awsClock = clock;
    });
    if (at >= t0) {
      const { skipped, failed, revocation_deferred } = report.outcomes;
      swept += report.found - skipped - failed - revocation_deferred;
    }
    if (purgeAt !== undefined && purged && purgeDone === undefined && report.outcomes.realm_removed > 0) {
      purgeDone = at;
    }
  };
  const sweeps = schedule.start((at) => runSweep(at.getTime()));

  // Progress over the whole simulated span, warm-up included (a 1/20 warm-up takes minutes), whole percents.
  let lastProgress = -1;
  const report = (at: number) => {
    const progress = Math.floor(((at - start.getTime()) / (end - start.getTime())) * 100);
    if (progress === lastProgress) return;
    lastProgress = progress;
    options.onProgress?.(progress / 100);
  };
  for (;;) {
    const next = Math.min(
      events.peek(),
      schedule.nextAt(),
      nextSample,
      purgeAt !== undefined && !purged ? purgeAt : Infinity,
    );
    if (next >= end) break;
    clock.set(new Date(next));
    if (purgeAt !== undefined && !purged && next === purgeAt) {
      purged = true;
      await deleteRealm(deps, REALM);
      continue;
    }
    if (spec.inhibit && !inhibited && next >= t0 + spec.inhibit.atDay * DAY) {
      // An operator's script inhibits (and revokes) a share of the fleet over the next hour, one device at a time,
      // retrying what the API answers 429 (the operator actions are outside the budget, inside the headroom).
      inhibited = true;
      devices.forEach((_, i) => {
        if (random() < (spec.inhibit?.share ?? 0)) events.push(next + random() * HOUR, -(i + 1));
      });
    }
    if (next === nextSample) {
      const backlog = (await measureBacklog(deps, SWEEP_SHARDS, 1_000_000)).count;
      // Drained: nobody has waited an hour for a certificate, and the sweeper's backlog fits in one run.
      // (A device that is offline is not waiting on Tether, whatever it was doing before it left.)
      const waitingLong = devices.some(
        (d) =>
          d.waitingSince !== undefined &&
          !d.inhibited &&
          !(d.offline && next >= d.offline.from && next < d.offline.until) &&
          next - d.waitingSince > HOUR,
      );
      series.push({
        hour: (next - t0) / HOUR,
        backlog,
        rate429: hourAttempts === 0 ? 0 : hour429 / hourAttempts,
      });
      hour429 = 0;
      hourAttempts = 0;
      const runCapacity = world.rates.sweep * SWEEP_DEFAULTS.runSeconds;
      if (
        drainFrom !== undefined &&
        drainedAt === undefined &&
        next >= drainFrom &&
        backlog <= runCapacity &&
        !waitingLong
      ) {
        drainedAt = next;
      }
      nextSample += HOUR;
      report(next);
      continue;
    }
    if (next === schedule.nextAt()) {
      await schedule.runDue(next);
      report(next);
      continue;
    }
    const { at, who } = events.pop();
    if (who < 0) {
      const target = devices[-who - 1] as Device;
      const found = await deps.store.getRealmAndDevice(REALM, target.id);
      if (!found.realm || !found.device) continue;
      try {
        await patchDevice(
          deps,
          { realm: found.realm, device: found.device },
          {
            credentialsInhibited: true,
            revokeCredentials: true,
          },
        );
        if (target.certificateId) deadlineOf.set(target.certificateId, at);
        target.inhibited = true;
      } catch {
        events.push(at + 1_000 * (1 + random()), who);
      }
      continue;
    }
    const d = devices[who] as Device;
    if (purged || d.inhibited) continue;
    if (d.offline && at >= d.offline.from && at < d.offline.until) {
      // Away: whatever it was waiting for, it is not waiting on Tether now (it verifies again when back), so a
      // certificate that expires meanwhile expired while it was away, not while it was online.
      d.waitingSince = undefined;
      events.push(d.offline.until, who);
      continue;
    }
    if (d.offline && at >= d.offline.until && d.certificatePem && d.waitingSince === undefined) {
      // Back online: the SDK checks its certificate with verify before it reconnects.
      const verdict = await verifyCredentials(
        deps,
        { realmName: REALM, deviceIdText: d.id, secret: d.secret, protocol: "astarte_mqtt_v1" },
        () => ({ client_crt: d.certificatePem as string }),
      ).catch(() => undefined);
      d.offline = undefined;
      if (verdict && !verdict.valid) d.waitingSince = at;
    }
    // Expired while it was online and trying to renew (not while it was away).
    if (
      d.certificateId &&
      at > d.notAfter &&
      d.waitingSince !== undefined &&
      d.waitingSince < d.notAfter &&
      at >= t0
    ) {
      d.expiredWhileOnline = true;
    }
    const again = await pair(d, at);
    if (again !== undefined) events.push(Math.max(again, at + 1), who);
  }
  clock.set(new Date(end));
  await sweeps.stop();
  await runSweep(end);

  const backlogEnd = (await measureBacklog(deps, SWEEP_SHARDS, 1_000_000)).count;
  const unpaired = devices.filter(
    (d) =>
      !d.inhibited &&
      (d.certificatePem === undefined || d.notAfter < end) &&
      !(d.offline && end < d.offline.until),
  ).length;
  const graceValues = Float64Array.from(pastGrace);
  const days = (end - t0) / DAY;
  const issuedPerDevicePerMonth = count > 0 ? (issued / count / Math.max(days, 1e-9)) * 30 : 0;
  // The month's bill for the full-scale fleet at the issuance rate measured here, in the CA mode asked for, one
  // message a minute per device.
  const caMode = options.caMode ?? "short-lived";
  const cost = estimateCost({
    caMode,
    devices: spec.devices,
    validitySeconds: VALIDITY_SECONDS,
    messagesPerMinute: 1,
    ...(issuedPerDevicePerMonth > 0 ? { certificatesPerDeviceMonth: issuedPerDevicePerMonth } : {}),
  });
  return {
    name: spec.name,
    devices: spec.devices,
    scale: `1/${Math.round(1 / scale)}`,
    simulatedDays: days,
    issued,
    superseded,
    swept,
    pastGraceActiveP99Seconds: Math.round(percentile(graceValues, 0.99)),
    pastGraceActiveMaxSeconds: Math.round(graceValues.reduce((m, v) => Math.max(m, v), 0)),
    dueBacklogEnd: backlogEnd,
    http5xx,
    throttled429: throttled,
    share429: attempts === 0 ? 0 : Number((throttled / attempts).toFixed(4)),
    longestWaitHours: Number((longestWait / HOUR).toFixed(2)),
    drainHours:
      drainFrom === undefined
        ? purgeDone !== undefined && purgeAt !== undefined
          ? Number(((purgeDone - purgeAt) / HOUR).toFixed(2))
          : 0
        : Number((((drainedAt ?? end) - drainFrom) / HOUR).toFixed(2)),
    devicesExpiredWhileOnline: devices.filter((d) => d.expiredWhileOnline).length,
    unpairedAtEnd: purged ? 0 : unpaired,
    throttledByAws: Object.fromEntries(world.throttledByAws),
    lastPairedHours: Number(((lastPaired - t0) / HOUR).toFixed(2)),
    caMode,
    costPerMonthUsd: Math.round(cost.totalUsd),
    series,
  };
}
