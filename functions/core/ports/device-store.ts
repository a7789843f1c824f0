import type { CertificateRecord, Device, InterfaceVersion, Realm } from "../model.ts";

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
}

export interface RollbackIssuanceInput {
  readonly certificate: CertificateRecord;
  readonly restoredCurrentSerial: string | undefined;
  readonly unconfirm: boolean;
}

/** Persistence of realms, devices and their certificates. Every state change is conditional. */
export interface DeviceStore {
  getRealm(name: string): Promise<Realm | undefined>;
  listRealms(): Promise<Realm[]>;
  /** @throws RealmExistsError */
  createRealm(realm: Realm): Promise<void>;
  /** @throws RealmNotFoundError */
  deleteRealm(name: string): Promise<void>;
  /** Replaces a realm's settings (not its name, creation time or device count). @throws RealmNotFoundError */
  updateRealm(realm: Realm): Promise<Realm>;

  /** Realm and device in one round trip (the hot path of every device request). */
  getRealmAndDevice(realm: string, deviceId: string): Promise<{ realm?: Realm; device?: Device }>;

  /**
   * Creates the device, or gives a never-confirmed one a new secret and clears its inhibition. A new device
   * counts against the realm's limit.
   * @throws UnprocessableError when the device is confirmed, or the limit is reached
   */
  registerDevice(input: RegisterDeviceInput): Promise<"created" | "renewed">;
  /** Forgets the secret and the confirmation. @throws DeviceNotFoundError */
  unregisterDevice(realm: string, deviceId: string): Promise<void>;
  /** @throws DeviceNotFoundError */
  setSecretHash(realm: string, deviceId: string, secretHash: string): Promise<void>;
  /** @throws DeviceNotFoundError */
  setCredentialsInhibited(realm: string, deviceId: string, inhibited: boolean): Promise<Device>;

  listCertificates(realm: string, deviceId: string): Promise<CertificateRecord[]>;
  getCertificate(realm: string, deviceId: string, serial: string): Promise<CertificateRecord | undefined>;
  /**
   * Makes `certificate` current and the previous one superseded, and confirms the device, atomically.
   * @throws ConcurrentIssuanceError when the device's current certificate changed since it was read
   */
  recordIssuance(input: RecordIssuanceInput): Promise<void>;
  /**
   * Undoes {@link recordIssuance} after a later step failed: deletes the certificate's record, makes
   * `restoredCurrentSerial` current again, and (for a first issuance) un-confirms the device. Conditional:
   * does nothing to state a newer issuance has changed since.
   */
  rollbackIssuance(input: RollbackIssuanceInput): Promise<void>;
  /** Sets these certificates' state to revoked; the device no longer has a current one if it was among them. */
  markRevoked(realm: string, deviceId: string, serials: readonly string[]): Promise<void>;
}

/** Another issuance for the same device committed first; re-read and try again. */
export class ConcurrentIssuanceError extends Error {
  constructor(options?: { cause?: unknown }) {
    super("the device's current certificate changed concurrently", options);
  }
}
