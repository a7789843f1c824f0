import { iotCertificateId } from "../certificate-id.ts";
import { DependencyUnavailableError, ThrottledError } from "../errors.ts";
import type { CertificateRecord, IssuanceIntent, RetiredReason } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type {
  CertificateLedger,
  FleetStats,
  FleetView,
  RealmStore,
  SweepQueue,
} from "../ports/device-store.ts";
import { certificateFacts } from "../x509.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & SweepQueue & CertificateLedger & FleetView & FleetStats;

export interface SweepOptions {
  /** How many shards the sweep index is spread over (table-schema's SWEEP_SHARDS). */
  readonly shards: number;
  /** Items one query takes from a shard. Each round gives every shard with due items a page. */
  readonly pageSize: number;
  /** The most items this run works on: its share of the account's quotas over the time it has. */
  readonly maxItems: number;
  /** Whether there is time for another round (the function's remaining time against a margin). */
  readonly hasTime: () => boolean;
  /** Items worked on at once. */
  readonly concurrency?: number;
  /** How waiting for the budget waits (the simulator's virtual time); real time by default. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * What the sweeper can do with a due item (each is a `Swept_<outcome>` metric): realm_purging is a deleted realm
 * with devices left (some were purged this run); realm_removed one with none left (its record gone, its name
 * free again); device_purged counts devices of deleted realms purged; revocation_deferred a certificate taken
 * out of IoT whose revocation waits for the CA.
 */
export const SWEEP_OUTCOMES = [
  "expired",
  "superseded",
  "revoked",
  "intent_cleared",
  "intent_orphan_removed",
  "realm_purging",
  "realm_removed",
  "device_purged",
  "revocation_deferred",
  "skipped",
  "failed",
] as const;
export type SweepOutcome = (typeof SWEEP_OUTCOMES)[number];

/**
 * How long a certificate already out of IoT waits before the sweeper tries its revocation again, the CA having been
 * unavailable (or throttling): an hour, so a day's CA outage costs each such certificate some 24 tries, and never
 * past its expiry (an expired certificate needs no revocation).
 */
export const REVOCATION_RETRY_MS = 3_600_000;

/** The backlog figures each run reports after it (the alarm watches the oldest due item's age). */
export const SWEEP_BACKLOG_METRICS = {
  count: "SweepBacklog",
  oldestAge: "SweepOldestDueAgeSeconds",
} as const;

/** Due items counted per shard when measuring the backlog: the count is a floor above this. */
export const BACKLOG_COUNT_CAP = 10_000;

/**
 * How a run is bounded on AWS: the sweeper runs every minute for at most 50 s, each item admitted by the sweep
 * lane of the shared AWS request budget (core/aws-budget.ts). With AWS's default quotas that lane is 8 items a
 * second (80 % of DescribeCertificate's 10), so a run works on up to 400 items: 24,000 an hour, 576,000 a day,
 * while a 1,000,000-device fleet on 7-day certificates supersedes about 230,000 a day.
 */
export const SWEEP_DEFAULTS = {
  pageSize: 100,
  runSeconds: 50,
  periodSeconds: 60,
} as const;

/**
 * A run bounded by items alone (and by the budget, as every run): tests, `npm run sweep` and `npm start`.
 * `maxItems` may be Infinity: the run then drains everything due.
 */
export function boundedRun(shards: number, maxItems: number): SweepOptions {
  return {
    shards,
    pageSize: SWEEP_DEFAULTS.pageSize,
    maxItems,
    hasTime: () => true,
  };
}

export interface SweepReport {
  readonly found: number;
  readonly outcomes: Readonly<Record<SweepOutcome, number>>;
  /** True when the run ended (out of items or time) before every due item was seen. */
  readonly truncated: boolean;
  /** Rounds taken; each served every shard that still had due items. */
  readonly rounds: number;
}

const REVOCATION = { superseded: "SUPERSEDED", revoked: "CESSATION_OF_OPERATION" } as const;

/**
 * Takes what is past its deadline out of IoT Core: expired certificates, superseded ones past their grace,
 * revoked ones, certificates of abandoned issuances (intents), and deleted realms' devices. Each step is
 * idempotent (a missing IoT certificate is success, a PCA certificate already revoked is success) and the record
 * changes last and conditionally, so a run that dies midway is finished by the next one and nothing is done twice.
 */
export async function sweep(
  deps: DepsOf<Store, "transport" | "ca" | "clock" | "budget">,
  options: SweepOptions,
): Promise<SweepReport> {
  const now = deps.clock.now().toISOString();
  const outcomes = Object.fromEntries(SWEEP_OUTCOMES.map((o) => [o, 0])) as Record<SweepOutcome, number>;
  let found = 0;
  let rounds = 0;
  const concurrency = options.concurrency ?? 4;
  const pace = admitter(deps, options.hasTime, options.sleep);
  // Certificates retired, per realm and reason: each realm's activity chart (fleet-overview.ts), counted at the end.
  const retired = new Map<string, Partial<Record<RetiredReason, number>>>();
  // Every shard has a cursor; a shard leaves the rotation once a page comes back short (nothing more is due).
  const cursors = new Map<number, string | undefined>(
    Array.from({ length: options.shards }, (_, shard) => [shard, undefined]),
  );
  while (cursors.size > 0 && found < options.maxItems && options.hasTime()) {
    rounds++;
    const room = options.maxItems - found;
    // A fair share of what is left for each shard still in rotation: none waits behind another. With less
    // room than shards, a random subset of them (every shard has the same chance each run).
    const share = Math.max(1, Math.min(options.pageSize, Math.floor(room / cursors.size)));
    const served = [...cursors]
      .sort(() => Math.random() - 0.5)
      .slice(0, Math.max(1, Math.min(cursors.size, room)));
    const pages = await Promise.all(
      served.map(async ([shard, cursor]) => ({
        shard,
        page: await deps.store.findDue(shard, now, share, cursor),
      })),
    );
    const due = pages.flatMap(({ page }) => page.items);
    for (const { shard, page } of pages) {
      if (page.cursor) cursors.set(shard, page.cursor);
      else cursors.delete(shard);
    }
    found += due.length;
    await inBatches(due, concurrency, async (item) => {
      try {
        await pace();
        if (item.kind === "realm") {
          const purged = await purgeRealm(deps, item.realm, now, {
            concurrency,
            pace,
            limit: Math.max(1, Math.min(REALM_PURGE_BATCH, options.maxItems - found)),
          });
          // A purge works on many devices: they count against the run's share.
          found += purged;
          outcomes.device_purged += purged;
          outcomes[purged === 0 ? "realm_removed" : "realm_purging"]++;
          return;
        }
        const outcome =
          item.kind === "certificate"
            ? await retire(deps, item.record, now)
            : await clearIntent(deps, item.intent);
        outcomes[outcome]++;
        if (item.kind === "certificate" && RETIRED_REASONS.has(outcome)) {
          const counts = retired.get(item.record.realm) ?? {};
          counts[outcome as RetiredReason] = (counts[outcome as RetiredReason] ?? 0) + 1;
          retired.set(item.record.realm, counts);
        }
      } catch (error) {
        // Left in the index: the next run tries again (this one has paged past it). One the lane had no room for
        // before the run's time was up was not worked on at all.
        if (error instanceof OutOfTime) found--;
        else outcomes.failed++;
      }
    });
  }
  await Promise.all(
    [...retired].map(([realm, counts]) =>
      deps.store.countActivity(
        realm,
        now,
        Object.fromEntries(Object.entries(counts).map(([reason, n]) => [`swept_${reason}`, n])),
      ),
    ),
  );
  return { found, outcomes, truncated: cursors.size > 0, rounds };
}

const RETIRED_REASONS: ReadonlySet<string> = new Set<RetiredReason>(["expired", "superseded", "revoked"]);

/** The run's time was up before the lane had room for the item: it is left for the next run. */
class OutOfTime extends Error {}

/**
 * Waits until the sweep lane of the shared AWS request budget admits one more item: the sweeper's pace is its
 * reserved share of the account's quotas, whatever else runs (another run overlapping this one included). It
 * waits no more once the run's time is up: a run ends at most one wait (a cell's interval, half a second at the
 * default rates) past its time, however congested the lane, well inside its function's timeout.
 */
function admitter(
  deps: DepsOf<unknown, "clock" | "budget">,
  hasTime: () => boolean,
  sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
) {
  return async () => {
    for (;;) {
      const now = deps.clock.now().getTime();
      const decision = await deps.budget.take("sweep", 1, now);
      if (decision.admitted) return;
      if (!hasTime()) throw new OutOfTime("the run's time is up");
      // From the time as it is now: items waiting together wait for the same moment, not one after another.
      await sleep(Math.max(1, decision.retryAt - deps.clock.now().getTime()));
    }
  };
}

/**
 * What is left due after a run, across shards: a count capped per shard (so measuring stays cheap) and the age
 * of the oldest due item, the two figures the backlog alarm watches.
 */
export async function measureBacklog(
  deps: DepsOf<SweepQueue, "clock">,
  shards: number,
  capPerShard: number,
): Promise<{ count: number; capped: boolean; oldestDueAgeSeconds: number }> {
  const now = deps.clock.now();
  const measured = await Promise.all(
    Array.from({ length: shards }, (_, shard) =>
      deps.store.dueBacklog(shard, now.toISOString(), capPerShard),
    ),
  );
  const oldest = measured
    .map((m) => m.oldest)
    .filter((o): o is string => o !== undefined)
    .sort()[0];
  return {
    count: measured.reduce((sum, m) => sum + m.count, 0),
    capped: measured.some((m) => m.count >= capPerShard),
    oldestDueAgeSeconds: oldest ? Math.max(0, (now.getTime() - new Date(oldest).getTime()) / 1000) : 0,
  };
}

async function retire(
  deps: DepsOf<Store, "transport" | "ca">,
  record: CertificateRecord,
  now: string,
): Promise<SweepOutcome> {
  const reason = retiredReason(record, now);
  if (!reason) return "skipped";
  if (!record.revocationPending) {
    await deps.transport.removeCertificate(
      record.realm,
      record.deviceId,
      record.iotCertificateId,
      record.iotCertificateArn,
    );
  }
  // An expired certificate needs no revocation; a superseded or revoked one is revoked before it expires.
  if (reason !== "expired") {
    try {
      await deps.ca.revokeCertificate(record.serial, REVOCATION[reason], record.issuer);
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError || error instanceof ThrottledError)) throw error;
      // Out of IoT, which is what makes it unusable; the revocation waits for the CA, off the head of the queue
      // (items due behind it are not held up while the CA is down), and no longer than the certificate lives.
      const until = Math.min(Date.parse(record.notAfter), Date.parse(now) + REVOCATION_RETRY_MS);
      const deferred = await deps.store.deferRevocation(record, new Date(until).toISOString());
      return deferred ? "revocation_deferred" : "skipped";
    }
  }
  return (await deps.store.retireCertificate(record, reason, now)) ? reason : "skipped";
}

function retiredReason(record: CertificateRecord, now: string): RetiredReason | undefined {
  if (record.state === "revoked") return "revoked";
  if (record.state === "superseded" && record.graceUntil !== undefined && record.graceUntil <= now) {
    return record.notAfter <= now ? "expired" : "superseded";
  }
  if (record.state === "current" && record.notAfter <= now) return "expired";
  return undefined;
}

/**
 * An intent past its deadline is an issuance that died midway. If the CA issued a certificate for it that
 * Tether never recorded, that certificate may be registered (even ACTIVE) in IoT: remove it and revoke it.
 */
async function clearIntent(
  deps: DepsOf<Store, "transport" | "ca">,
  intent: IssuanceIntent,
): Promise<SweepOutcome> {
  let outcome: SweepOutcome = "intent_cleared";
  if (intent.certificateRef) {
    const pem = await deps.ca.fetchCertificate(intent.certificateRef);
    const facts = certificateFacts(pem);
    const recorded = await deps.store.getCertificate(intent.realm, intent.deviceId, facts.serial);
    if (!recorded) {
      const certificateId = iotCertificateId(facts.der);
      const arn = await deps.transport.certificateArn(certificateId);
      if (arn) await deps.transport.removeCertificate(intent.realm, intent.deviceId, certificateId, arn);
      await deps.ca.revokeCertificate(
        facts.serial,
        "CESSATION_OF_OPERATION",
        deps.ca.issuerOf(intent.certificateRef),
      );
      outcome = "intent_orphan_removed";
    }
  }
  await deps.store.deleteIntent(intent);
  return outcome;
}

/**
 * Devices of a deleted realm purged per visit at most (fewer when the run has less room left); each live
 * certificate of a device is admitted by the budget like any item (a device without one, as one). The realm stays
 * due, so the next run goes on. At the default pace (8 a second, 400 a run) a 100,000-device realm whose devices
 * hold one or two live certificates takes some 250 to 500 runs, four to eight hours; until its turn a device's
 * certificate still works on MQTT (never beyond its expiry).
 */
export const REALM_PURGE_BATCH = 500;

/**
 * Purges up to {@link REALM_PURGE_BATCH} devices of a deleted realm: abandoned issuances cleared, every
 * certificate still in IoT removed (and revoked unless expired), the thing deleted, then the device's items.
 * When none are left, the realm's record goes. Returns how many devices were purged (0: the realm is gone).
 */
async function purgeRealm(
  deps: DepsOf<Store, "transport" | "ca">,
  realm: string,
  now: string,
  run: { readonly concurrency: number; readonly pace: () => Promise<void>; readonly limit: number },
): Promise<number> {
  const { concurrency } = run;
  const { devices } = await deps.store.listDevices(realm, run.limit, undefined);
  if (devices.length === 0) {
    // Things whose device record is gone (a registration that failed midway, before things were made last).
    const things = await deps.transport.listRealmThings(realm, REALM_PURGE_BATCH);
    await inBatches(things, concurrency, (deviceId) => deps.transport.removeThing(realm, deviceId));
    if (things.length > 0) return things.length;
    // Its overview goes with it: a realm created later under the name starts with none.
    await deps.store.forgetFleetStats(realm);
    await deps.store.removeDeletedRealm(realm);
    return 0;
  }
  // The realm's item was admitted by the lane: that unit is the first device's.
  let paid = true;
  await inBatches(devices, concurrency, async ({ deviceId }) => {
    if (paid) paid = false;
    else await run.pace();
    const { certificates, intents } = await deps.store.listHoldings(realm, deviceId);
    for (const intent of intents) await clearIntent(deps, intent);
    const live = certificates.filter((record) => record.state !== "retired");
    for (const [i, c] of live.entries()) {
      // Each certificate is one item's worth of calls (the lane's unit): a device with several takes as many.
      if (i > 0) await run.pace();
      await deps.transport.removeCertificate(realm, deviceId, c.iotCertificateId, c.iotCertificateArn);
      const unexpired = c.notAfter > now;
      if (unexpired) await deps.ca.revokeCertificate(c.serial, "CESSATION_OF_OPERATION", c.issuer);
      // With more to go, the run may end before the next one: recorded, so the next run starts after it (a run
      // with room for one certificate would otherwise start this device over, and never finish it).
      if (i < live.length - 1) await deps.store.retireCertificate(c, unexpired ? "revoked" : "expired", now);
    }
    await deps.transport.removeThing(realm, deviceId);
    await deps.store.purgeDevice(realm, deviceId);
  });
  return devices.length;
}

async function inBatches<T>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}
