import type { FleetCounts } from "../../core/fleet-stats.ts";
import type {
  CertificateRecord,
  CredentialEvent,
  Device,
  IssuanceAdmission,
  IssuanceIntent,
  Realm,
} from "../../core/model.ts";
import { SWEEP_SHARDS, sweepShardOf } from "../table-schema.ts";

/**
 * The state of the in-memory store: what the DynamoDB table holds, as typed rows. Every operation of the
 * store checks its conditions and applies its writes in one synchronous step (no `await` between), so it is
 * atomic the way a DynamoDB conditional write or transaction is, and rows are copied in and out so a caller
 * never holds live state (as with DynamoDB, which returns copies).
 */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface RealmRow {
  realm: Mutable<Realm>;
  /** Set once deleted: the realm is then unknown to every API, and due for the sweeper at `purgeAt`. */
  purgeAt?: string;
}

export interface DeviceRow {
  device: Omit<Mutable<Device>, "issuance"> & { issuance: Mutable<IssuanceAdmission> };
  /** When the last presence event recorded happened (out-of-order events never overwrite a newer one). */
  presenceAt?: string;
}

export interface CertificateRow {
  record: Mutable<CertificateRecord>;
  /** Its place on the sweep index: set while the sweeper has something to do with it. */
  deadline?: string | undefined;
}

export interface IntentRow {
  intent: Mutable<IssuanceIntent>;
  deadline: string;
}

export interface EventRow {
  event: CredentialEvent;
  /** Order of events written by one operation at one timestamp. */
  order: number;
  seq: number;
}

/** A certificate's place on the sweep index: where DynamoDB's `by-deadline` GSI would list it. */
export interface DueEntry {
  readonly deadline: string;
  readonly key: string;
  readonly row: CertificateRow;
  /** The device's key and the row's id under it, to tell whether the row is still stored. */
  readonly owner: string;
  readonly id: string;
}

export class MemoryTables {
  /**
   * The sweep index, per shard, in (deadline, key) order: what DynamoDB's GSI keeps, so finding what is due
   * costs what is due, not the whole table (the fleet simulator sweeps a 50,000-device store every virtual
   * minute). Every write that sets a row's deadline adds it here; an entry whose row has since moved or gone is
   * stale and dropped when a query meets it.
   */
  readonly dueIndex: DueEntry[][] = Array.from({ length: SWEEP_SHARDS }, () => []);
  /**
   * Intents written since the last look, live or not: an intent lives for one request (deleted by the record
   * that completes it), so the few still stored are found here rather than on the index, where a retry storm's
   * short-lived intents would pile up as stale entries. Dead ones are dropped when {@link dueIntents} meets them.
   */
  readonly #recentIntents = new Set<IntentRow>();
  readonly realms = new Map<string, RealmRow>();
  readonly devices = new Map<string, DeviceRow>();
  readonly certificates = new Map<string, Map<string, CertificateRow>>();
  readonly intents = new Map<string, Map<string, IntentRow>>();
  readonly events = new Map<string, EventRow[]>();
  /** The fleet counts saved last, per realm. */
  readonly fleetCounts = new Map<string, FleetCounts>();
  /** Hourly activity counters, per realm, by hour. */
  readonly activity = new Map<string, Map<string, Record<string, number>>>();
  private seq = 0;

  device(realm: string, deviceId: string): DeviceRow | undefined {
    return this.devices.get(deviceKey(realm, deviceId));
  }

  certificatesOf(realm: string, deviceId: string): Map<string, CertificateRow> {
    return rowsOf(this.certificates, deviceKey(realm, deviceId));
  }

  intentsOf(realm: string, deviceId: string): Map<string, IntentRow> {
    return rowsOf(this.intents, deviceKey(realm, deviceId));
  }

  /** Puts a certificate on the sweep index at its deadline (call wherever its deadline is set). */
  indexDue(row: CertificateRow): void {
    const { deadline } = row;
    if (deadline === undefined) return;
    const { realm, deviceId, serial } = row.record;
    const entry: DueEntry = {
      deadline,
      key: `${realm}#${deviceId}#CERT#${serial}`,
      row,
      owner: deviceKey(realm, deviceId),
      id: serial,
    };
    const list = this.dueIndex[shardOf(deviceId)] as DueEntry[];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = list[mid] as DueEntry;
      if (m.deadline < deadline || (m.deadline === deadline && m.key <= entry.key)) lo = mid + 1;
      else hi = mid;
    }
    const before = list[lo - 1];
    if (before && before.row === row && before.deadline === deadline) return;
    list.splice(lo, 0, entry);
  }

  /** Notes an intent written (call wherever one is put). */
  noteIntent(row: IntentRow): void {
    this.#recentIntents.add(row);
  }

  /** The stored intents of a shard due at `now` (any order); intents no longer stored are forgotten. */
  dueIntents(shard: number, now: string): IntentRow[] {
    const due: IntentRow[] = [];
    for (const row of this.#recentIntents) {
      const { realm, deviceId, requestId } = row.intent;
      if (this.intents.get(deviceKey(realm, deviceId))?.get(requestId) !== row) {
        this.#recentIntents.delete(row);
        continue;
      }
      if (row.deadline <= now && shardOf(deviceId) === shard) due.push(row);
    }
    return due;
  }

  /** Whether an index entry still stands for its row: the row still stored, still at that deadline. */
  #live(entry: DueEntry): boolean {
    return (
      this.certificates.get(entry.owner)?.get(entry.id) === entry.row && entry.row.deadline === entry.deadline
    );
  }

  /** The live entries of a shard due at `now`, in index order; stale ones met on the way are dropped. */
  dueEntries(shard: number, now: string): DueEntry[] {
    const list = this.dueIndex[shard] as DueEntry[];
    const due: DueEntry[] = [];
    let i = 0;
    for (; i < list.length && (list[i] as DueEntry).deadline <= now; i++) {
      const entry = list[i] as DueEntry;
      const last = due.at(-1);
      if (last && last.row === entry.row && last.deadline === entry.deadline) continue;
      if (this.#live(entry)) due.push(entry);
    }
    if (i > due.length) this.dueIndex[shard] = due.concat(list.slice(i));
    return due;
  }

  /** Records a credential event under its device (the timeline, and the outbox on AWS). */
  event(event: CredentialEvent, order = 0): void {
    const key = deviceKey(event.realm, event.deviceId);
    const list = this.events.get(key) ?? [];
    list.push({ event: stripUndefined(event), order, seq: this.seq++ });
    this.events.set(key, list);
  }

  /** Deletes every row of the device. */
  purge(realm: string, deviceId: string): void {
    const key = deviceKey(realm, deviceId);
    this.devices.delete(key);
    this.certificates.delete(key);
    this.intents.delete(key);
    this.events.delete(key);
  }
}

export const deviceKey = (realm: string, deviceId: string) => `${realm}#${deviceId}`;

/** A device's rows of one kind, made empty on first use. */
function rowsOf<T>(table: Map<string, Map<string, T>>, key: string): Map<string, T> {
  let rows = table.get(key);
  if (!rows) {
    rows = new Map();
    table.set(key, rows);
  }
  return rows;
}
export const shardOf = sweepShardOf;

/** A deep copy, as DynamoDB hands out: the caller cannot change the store through it. */
export function copy<T>(value: T): T {
  return structuredClone(value);
}

/** A copy without undefined properties, as an item comes back from DynamoDB (removeUndefinedValues). */
export function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A device as the DynamoDB adapter's reader returns it: every optional field normalized the same way. */
export function deviceOut(row: DeviceRow): Device {
  const d = row.device;
  return copy({
    realm: d.realm,
    deviceId: d.deviceId,
    secretHash: d.secretHash,
    firstRegistration: d.firstRegistration,
    firstCredentialsRequest: d.firstCredentialsRequest,
    lastCredentialsRequestIp: d.lastCredentialsRequestIp,
    credentialsInhibited: d.credentialsInhibited,
    introspection: d.introspection ?? {},
    currentSerial: d.currentSerial,
    currentNotAfter: d.currentNotAfter,
    connected: d.connected === true,
    lastConnection: d.lastConnection,
    lastDisconnection: d.lastDisconnection,
    lastSeenIp: d.lastSeenIp,
    metadata: d.metadata ?? {},
    ...(d.indexedMetadata === undefined ? {} : { indexedMetadata: d.indexedMetadata }),
    issuance: {
      lease: d.issuance.lease,
      tat: d.issuance.tat,
      admitAt: d.issuance.admitAt,
      lastKey: d.issuance.lastKey,
      turnAt: d.issuance.turnAt,
      turnUntil: d.issuance.turnUntil,
    },
  });
}

export function certificateOut(row: CertificateRow): CertificateRecord {
  const r = row.record;
  return copy({
    realm: r.realm,
    deviceId: r.deviceId,
    serial: r.serial,
    iotCertificateId: r.iotCertificateId,
    iotCertificateArn: r.iotCertificateArn,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    issuedAt: r.issuedAt,
    state: r.state,
    graceUntil: r.graceUntil,
    retiredReason: r.retiredReason,
    ...(r.revocationPending === true ? { revocationPending: true } : {}),
  });
}

export function intentOut(row: IntentRow): IssuanceIntent {
  const i = row.intent;
  return copy({
    realm: i.realm,
    deviceId: i.deviceId,
    requestId: i.requestId,
    createdAt: i.createdAt,
    certificateRef: i.certificateRef,
  });
}

/** Certificate rows in the order DynamoDB returns them (by sort key, `CERT#<serial>`). */
export function sortedCertificates(map: Map<string, CertificateRow>): CertificateRow[] {
  return [...map.values()].sort((a, b) => compare(a.record.serial, b.record.serial));
}

/** Compares strings as DynamoDB orders string keys: by UTF-8 bytes. */
export function compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
