import { iotCertificateId } from "../certificate-id.ts";
import type { CertificateRecord, IssuanceIntent, RetiredReason } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { CertificateLedger, FleetView, RealmStore, SweepQueue } from "../ports/device-store.ts";
import { certificateFacts } from "../x509.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & SweepQueue & CertificateLedger & FleetView;

/** How many shards the sweep index is spread over (table-schema's SWEEP_SHARDS). */
export interface SweepOptions {
  readonly shards: number;
  /** At most this many items per run, so a run fits its function's timeout; the rest waits for the next. */
  readonly batchLimit: number;
  /** Items worked on at once. */
  readonly concurrency?: number;
}

/**
 * What the sweeper can do with a due item (each is a `Swept_<outcome>` metric): realm_purging is a deleted realm
 * with devices left (some were purged this run); realm_removed one with none left (its record gone, its name
 * free again); device_purged counts devices of deleted realms purged.
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
  "skipped",
  "failed",
] as const;
export type SweepOutcome = (typeof SWEEP_OUTCOMES)[number];

/** Items per run: well inside the function's timeout even when every one needs four IoT calls. */
export const SWEEP_BATCH_LIMIT = 500;

export interface SweepReport {
  readonly found: number;
  readonly outcomes: Readonly<Record<SweepOutcome, number>>;
  /** True when the batch limit stopped the run before every due item was seen. */
  readonly truncated: boolean;
}

const REVOCATION = { superseded: "SUPERSEDED", revoked: "CESSATION_OF_OPERATION" } as const;

/**
 * Takes what is past its deadline out of IoT Core: expired certificates, superseded ones past their grace,
 * revoked ones, certificates of abandoned issuances (intents), and deleted realms' devices. Each step is
 * idempotent (a missing IoT certificate is success, a PCA certificate already revoked is success) and the record
 * changes last and conditionally, so a run that dies midway is finished by the next one and nothing is done twice.
 */
export async function sweep(
  deps: DepsOf<Store, "transport" | "ca" | "clock">,
  options: SweepOptions,
): Promise<SweepReport> {
  const now = deps.clock.now().toISOString();
  const outcomes: Record<SweepOutcome, number> = {
    expired: 0,
    superseded: 0,
    revoked: 0,
    intent_cleared: 0,
    intent_orphan_removed: 0,
    realm_purging: 0,
    realm_removed: 0,
    device_purged: 0,
    skipped: 0,
    failed: 0,
  };
  let found = 0;
  let truncated = false;
  for (let shard = 0; shard < options.shards; shard++) {
    const room = options.batchLimit - found;
    if (room <= 0) {
      truncated = true;
      break;
    }
    const due = await deps.store.findDue(shard, now, room);
    found += due.length;
    if (due.length === room) truncated = true;
    await inBatches(due, options.concurrency ?? 4, async (item) => {
      try {
        if (item.kind === "realm") {
          const purged = await purgeRealm(deps, item.realm, now, options.concurrency ?? 4);
          outcomes.device_purged += purged;
          outcomes[purged === 0 ? "realm_removed" : "realm_purging"]++;
          return;
        }
        const outcome =
          item.kind === "certificate"
            ? await retire(deps, item.record, now)
            : await clearIntent(deps, item.intent);
        outcomes[outcome]++;
      } catch {
        // Left in the index: the next run tries again.
        outcomes.failed++;
      }
    });
  }
  return { found, outcomes, truncated };
}

async function retire(
  deps: DepsOf<Store, "transport" | "ca">,
  record: CertificateRecord,
  now: string,
): Promise<SweepOutcome> {
  const reason = retiredReason(record, now);
  if (!reason) return "skipped";
  await deps.transport.removeCertificate(
    record.realm,
    record.deviceId,
    record.iotCertificateId,
    record.iotCertificateArn,
  );
  // An expired certificate needs no revocation; a superseded or revoked one is revoked before it expires.
  if (reason !== "expired") await deps.ca.revokeCertificate(record.serial, REVOCATION[reason]);
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
      await deps.ca.revokeCertificate(facts.serial, "CESSATION_OF_OPERATION");
      outcome = "intent_orphan_removed";
    }
  }
  await deps.store.deleteIntent(intent);
  return outcome;
}

/**
 * Devices of a deleted realm purged per run and realm; the rest are purged by the next runs. About eight AWS
 * calls each, four devices at a time: well inside the sweeper's five minutes. A 100,000-device realm takes some
 * 200 runs (under a day); until its turn a device's certificate still works on MQTT (never beyond its expiry).
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
  concurrency: number,
): Promise<number> {
  const { devices } = await deps.store.listDevices(realm, REALM_PURGE_BATCH, undefined);
  if (devices.length === 0) {
    // Things whose device record is gone (a registration that failed midway, before things were made last).
    const things = await deps.transport.listRealmThings(realm, REALM_PURGE_BATCH);
    await inBatches(things, concurrency, (deviceId) => deps.transport.removeThing(realm, deviceId));
    if (things.length > 0) return things.length;
    await deps.store.removeDeletedRealm(realm);
    return 0;
  }
  await inBatches(devices, concurrency, async ({ deviceId }) => {
    const { certificates, intents } = await deps.store.listHoldings(realm, deviceId);
    for (const intent of intents) await clearIntent(deps, intent);
    for (const c of certificates.filter((record) => record.state !== "retired")) {
      await deps.transport.removeCertificate(realm, deviceId, c.iotCertificateId, c.iotCertificateArn);
      if (c.notAfter > now) await deps.ca.revokeCertificate(c.serial, "CESSATION_OF_OPERATION");
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
