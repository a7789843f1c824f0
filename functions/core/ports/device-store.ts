import type { DeviceQuery, DeviceSearchPage } from "../device-query.ts";
import type { ActivityCounts, ActivityHour, FleetCounts } from "../fleet-stats.ts";
import type {
  CertificateRecord,
  CredentialEvent,
  Device,
  InterfaceVersion,
  IssuanceIntent,
  Realm,
  RetiredReason,
} from "../model.ts";

export interface RegisterDeviceInput {
  readonly realm: Realm;
  readonly deviceId: string;
  readonly secretHash: string;
  readonly introspection: Readonly<Record<string, InterfaceVersion>> | undefined;
  readonly now: string;
}

export interface RecordIssuanceInput {
  readonly certificate: CertificateRecord;
  /** The device's current serial as read before issuing; the write fails if it changed meanwhile. */
  readonly expectedCurrentSerial: string | undefined;
  /** The certificate being superseded, with the end of its grace. */
  readonly superseded: { readonly serial: string; readonly graceUntil: string } | undefined;
  readonly requestIp: string | undefined;
  readonly now: string;
  /**
   * The fence: the stored hash of the secret the request authenticated with. The write fails unless the
   * device still has exactly this secret, so an issuance in flight across an unregistration, a re-registration
   * or a secret rotation never lands.
   */
  readonly secretHash: string;
  /** The intent this issuance completes (deleted in the same transaction). */
  readonly intentRequestId: string;
  /** The issuance slot this request holds ({@link DeviceStore.beginIssuance}): released here, with the charge. */
  readonly lease: number;
  readonly charge: IssuanceCharge;
  /** Superseded certificates whose grace ends now (the cap on live certificates), due for the sweeper. */
  readonly graceCuts: readonly string[];
}

/** What a billed issuance costs the device's budget (core/admission.ts), and its idempotency key. */
export interface IssuanceCharge {
  readonly tat: number;
  readonly admitAt: number;
  readonly key: string;
}

export interface BeginIssuanceInput {
  readonly realm: string;
  readonly deviceId: string;
  /** Keyed hash of the secret the request presents: the slot is only taken for the device's own secret. */
  readonly secretHash: string;
  /** The request's idempotency key: the repeat of the last billed issuance is admitted over budget. */
  readonly key: string;
  readonly now: number;
  /** Until when the slot is held if the request dies without releasing it (epoch ms). */
  readonly leaseUntil: number;
}

/** The device as it was before the attempt (undefined: no such device), and whether the slot was taken. */
export interface BeginIssuanceResult {
  readonly acquired: boolean;
  readonly device: Device | undefined;
}

export interface EndIssuanceInput {
  readonly realm: string;
  readonly deviceId: string;
  readonly lease: number;
  /** Set when the CA issued (and billed) a certificate that was not recorded. */
  readonly charge: IssuanceCharge | undefined;
  /** A turn reserved for the device's next attempt (epoch ms), kept with it. */
  readonly turn?: { readonly at: number; readonly until: number } | undefined;
}

export interface PresenceUpdate {
  readonly connected: boolean;
  readonly at: string;
  readonly ip: string | undefined;
}

export interface DevicePage {
  readonly devices: readonly Device[];
  readonly next: string | undefined;
}

/** Something the sweeper must deal with: a certificate past its deadline, or an abandoned issuance. */
export type DueItem =
  | { readonly kind: "certificate"; readonly record: CertificateRecord }
  | { readonly kind: "intent"; readonly intent: IssuanceIntent }
  | { readonly kind: "realm"; readonly realm: string };

/** A page of due items; `cursor` (opaque) continues after it, set only when the page was full. */
export interface DuePage {
  readonly items: DueItem[];
  readonly cursor: string | undefined;
}

export interface RollbackIssuanceInput {
  readonly certificate: CertificateRecord;
  readonly restoredCurrentSerial: string | undefined;
  readonly unconfirm: boolean;
  /** Put back (the record's transaction had cleared it), so the sweeper can finish a failed compensation. */
  readonly intent: IssuanceIntent;
  readonly intentDeadline: string;
}

/** Realms: the tenants of Tether, and their settings. */
export interface RealmStore {
  getRealm(name: string): Promise<Realm | undefined>;
  listRealms(): Promise<Realm[]>;
  /** @throws RealmExistsError */
  createRealm(realm: Realm): Promise<void>;
  /**
   * Deletes the realm: from now on every API treats it as unknown (and a realm of that name cannot be created
   * until it is purged); at `purgeAt` the sweeper finds it due and removes its devices, then its record.
   * @throws RealmNotFoundError
   */
  deleteRealm(name: string, purgeAt: string): Promise<void>;
  /** Drops a deleted realm's record once its devices are purged. */
  removeDeletedRealm(name: string): Promise<void>;
  /** Replaces a realm's settings (not its name, creation time or device count). @throws RealmNotFoundError */
  updateRealm(realm: Realm): Promise<Realm>;
}

/** Devices: registration, secrets and inhibition, read alongside their realm. */
export interface DeviceRegistry {
  /** Realm and device in one round trip (the hot path of every device request). */
  getRealmAndDevice(realm: string, deviceId: string): Promise<{ realm?: Realm; device?: Device }>;
  /**
   * Creates the device, or gives a never-confirmed one a new secret and clears its inhibition. A new device
   * counts against the realm's limit.
   * @throws UnprocessableError when the device is confirmed, or the limit is reached
   */
  registerDevice(input: RegisterDeviceInput): Promise<"created" | "renewed">;
  /**
   * Undoes a registration that created the device, when a later step failed: deletes the device if it still
   * has `secretHash` and was never confirmed, and gives its place back to the realm's limit.
   */
  discardNewDevice(realm: string, deviceId: string, secretHash: string): Promise<void>;
  /** Forgets the secret and the confirmation. @throws DeviceNotFoundError */
  unregisterDevice(realm: string, deviceId: string, now: string): Promise<void>;
  /** @throws DeviceNotFoundError */
  setSecretHash(realm: string, deviceId: string, secretHash: string, now: string): Promise<void>;
  /** @throws DeviceNotFoundError */
  setCredentialsInhibited(realm: string, deviceId: string, inhibited: boolean, now: string): Promise<void>;
}

/** A device's one issuance at a time, and its issuance budget. */
export interface IssuanceSlot {
  /**
   * Takes the device's one issuance slot, in a single conditional write that also admits the request: only
   * for the device's own secret, not inhibited, no other issuance holding the slot, and the budget admitting
   * (or the key repeating the last billed issuance). Returns the device as it was, either way, so the caller
   * can tell why it was refused. Taking the slot also takes the device's reserved turn, if it has one: the
   * request holds it now, and hands it back with the slot if it does not use it.
   */
  beginIssuance(input: BeginIssuanceInput): Promise<BeginIssuanceResult>;
  /**
   * Gives the slot back (if still held by `lease`), charging the budget when a certificate was billed, and
   * keeping the turn the request reserved or did not use.
   */
  endIssuance(input: EndIssuanceInput): Promise<void>;
}

/** The certificates Tether issued, and the issuances under way (intents). */
export interface CertificateLedger {
  listCertificates(realm: string, deviceId: string): Promise<CertificateRecord[]>;
  getCertificate(realm: string, deviceId: string, serial: string): Promise<CertificateRecord | undefined>;
  /**
   * Makes `certificate` current and the previous one superseded, and confirms the device, atomically;
   * only while the device still has the secret the request authenticated with and is not inhibited.
   * @throws ConcurrentIssuanceError when the device changed since it was read (the caller re-reads)
   */
  recordIssuance(input: RecordIssuanceInput): Promise<void>;
  /**
   * Undoes {@link recordIssuance} after a later step failed: deletes the certificate's record, makes
   * `restoredCurrentSerial` current again, (for a first issuance) un-confirms the device, and restores the intent. Conditional:
   * does nothing to state a newer issuance has changed since.
   */
  rollbackIssuance(input: RollbackIssuanceInput): Promise<void>;
  /** Records an issuance about to start; the sweeper treats it as abandoned after `deadline`. */
  putIntent(intent: IssuanceIntent, deadline: string): Promise<void>;
  /** Adds the CA's certificate id to an intent. */
  setIntentCertificate(intent: IssuanceIntent, certificateRef: string): Promise<void>;
  deleteIntent(intent: IssuanceIntent): Promise<void>;
  /** Sets these certificates' state to revoked; the device no longer has a current one if it was among them. */
  markRevoked(realm: string, deviceId: string, serials: readonly string[], now: string): Promise<void>;
}

/** What the sweeper must deal with, by deadline, and what a purge must undo. */
export interface SweepQueue {
  /**
   * Up to `limit` items of one sweep shard whose deadline is at or before `now`, earliest first, after `cursor`
   * (where the last page ended). `cursor` comes back when the page is full: more may be due after it. A run
   * pages past items it could not finish, so one stuck item never hides the ones behind it.
   */
  findDue(shard: number, now: string, limit: number, cursor?: string): Promise<DuePage>;
  /**
   * How much is due in one shard at `now`: a count that stops at `cap` (so measuring stays cheap however large
   * the backlog is), and the earliest deadline among them.
   */
  dueBacklog(shard: number, now: string, cap: number): Promise<{ count: number; oldest: string | undefined }>;
  /**
   * Marks a certificate retired (gone from IoT), takes it off the sweep index and records the event.
   * Conditional on its state being the one read; false if something changed it meanwhile.
   */
  retireCertificate(record: CertificateRecord, reason: RetiredReason, now: string): Promise<boolean>;
  /**
   * Notes that a certificate is out of IoT while its revocation waits for the CA, and moves its sweep deadline to
   * `until`, so items behind it are not held up. Conditional on its state being the one read.
   */
  deferRevocation(record: CertificateRecord, until: string): Promise<boolean>;
  /**
   * What a purge must undo, in one read: the device's certificates and its issuances that have not finished
   * (or never will).
   */
  listHoldings(
    realm: string,
    deviceId: string,
  ): Promise<{ certificates: CertificateRecord[]; intents: IssuanceIntent[] }>;
  /** Deletes every item of the device: its record, certificate records, timeline and intents. */
  purgeDevice(realm: string, deviceId: string): Promise<void>;
}

/** What the transport reports about devices, and the realm's device list and timelines. */
export interface FleetView {
  /**
   * Records a connection or disconnection seen at `at`. Ignored (false) for an unknown device, or when a later
   * presence event was already recorded (lifecycle events can arrive out of order).
   */
  recordPresence(realm: string, deviceId: string, presence: PresenceUpdate): Promise<boolean>;
  /**
   * Replaces the device's metadata map, and with `indexed` (its values under the realm's indexed keys, as text) what
   * the device search finds it by (left as recorded without). False for an unknown device.
   */
  setMetadata(
    realm: string,
    deviceId: string,
    metadata: Readonly<Record<string, string | number | boolean>>,
    indexed?: Readonly<Record<string, string>>,
  ): Promise<boolean>;
  /** A page of the realm's devices in id order, starting after `after`; `next` is set when more remain. */
  listDevices(realm: string, limit: number, after: string | undefined): Promise<DevicePage>;
  /**
   * A page of a search of the realm's devices (a query core/device-query.ts has checked), in its order, starting
   * after the page `token` ended (a token of another search is refused with a ValidationError); `next` is set
   * while more may follow. Every device returned matches the query as recorded.
   */
  searchDevices(
    realm: string,
    query: DeviceQuery,
    limit: number,
    token: string | undefined,
  ): Promise<DeviceSearchPage>;
  /**
   * Gives search views to up to `limit` devices of the realm that have none (registered before the device search
   * existed), from where the last call stopped; `done` once none are left (then every later call is a no-op).
   */
  backfillViews(
    realm: string,
    limit: number,
  ): Promise<{ readonly projected: number; readonly done: boolean }>;
  /** The device's credential timeline, newest first. */
  listEvents(realm: string, deviceId: string, limit: number): Promise<CredentialEvent[]>;
}

/** The fleet at a glance (core/fleet-stats.ts): counts of the realm's devices, and its hourly activity counters. */
export interface FleetStats {
  /**
   * Counts the realm's devices by status and presence, and their current certificates by expiry, at `now`, from
   * the search's index: one index entry read per device (the caller decides how often that is worth it).
   */
  countFleet(realm: string, now: string): Promise<FleetCounts>;
  /** The counts {@link saveFleetCounts} kept last for the realm, if any. */
  getFleetCounts(realm: string): Promise<FleetCounts | undefined>;
  saveFleetCounts(realm: string, counts: FleetCounts): Promise<void>;
  /**
   * Adds `counts` to the realm's counters of the hour `at` falls in. Many writers at once (a renewal wave, a
   * refusal storm) land on different items: the hour's counters are sharded, and read back summed. Never throws:
   * a count a failed write missed leaves a chart one short (the adapter logs it), never fails what it counts.
   */
  countActivity(realm: string, at: string, counts: ActivityCounts): Promise<void>;
  /** The realm's hourly counters from hour `from` to hour `to` (both included), oldest first; idle hours left out. */
  readActivity(realm: string, from: string, to: string): Promise<ActivityHour[]>;
  /** Deletes the realm's counts and counters (a purged realm's name may be taken again). */
  forgetFleetStats(realm: string): Promise<void>;
}

/**
 * Persistence of realms, devices and their certificates, one port per concept (a use-case names only the ones
 * it uses). Every state change is conditional, and writes its credential event (the device's timeline, and
 * the outbox EventBridge is fed from) in the same transaction.
 */
export interface DeviceStore
  extends RealmStore,
    DeviceRegistry,
    IssuanceSlot,
    CertificateLedger,
    SweepQueue,
    FleetView,
    FleetStats {}

/** Another issuance for the same device committed first; re-read and try again. */
export class ConcurrentIssuanceError extends Error {
  constructor(options?: { cause?: unknown }) {
    super("the device's current certificate changed concurrently", options);
  }
}
