/** Tether's domain records, as the use-cases see them (storage shapes live in the adapters). */

export interface InterfaceVersion {
  readonly major: number;
  readonly minor: number;
}

export interface Realm {
  readonly name: string;
  /** PEM of the public key agent and AppEngine JWTs are verified with. */
  readonly jwtPublicKeyPem: string;
  /** `mqtts://host:port/` devices are sent to; undefined means the service default. */
  readonly brokerUrl: string | undefined;
  readonly certificateValiditySeconds: number;
  readonly graceSeconds: number;
  readonly deviceLimit: number | undefined;
  /** Billed certificate issuances a device may make per hour (a burst of this many, then evenly spread). */
  readonly issuanceBudgetPerHour: number;
  /** Certificates of one device live at once: the current one and those superseded but still in grace. */
  readonly maxLiveCertificates: number;
  /** Metadata keys the device search filters on by exact value (each device keeps a view per key it reports). */
  readonly indexedMetadataKeys: readonly string[];
  readonly deviceCount: number;
  readonly createdAt: string;
}

export interface Device {
  readonly realm: string;
  readonly deviceId: string;
  /** Keyed hash of the credentials secret; undefined once unregistered. */
  readonly secretHash: string | undefined;
  readonly firstRegistration: string;
  /** Set by the first certificate issued; its presence makes the device "confirmed". */
  readonly firstCredentialsRequest: string | undefined;
  readonly lastCredentialsRequestIp: string | undefined;
  readonly credentialsInhibited: boolean;
  readonly introspection: Readonly<Record<string, InterfaceVersion>>;
  /** Serial of the current certificate, if any. */
  readonly currentSerial: string | undefined;
  /** When the current certificate expires (recorded with it, so the device search can order by it). */
  readonly currentNotAfter?: string | undefined;
  /** Presence on the MQTT transport (from IoT lifecycle events). */
  readonly connected?: boolean | undefined;
  readonly lastConnection?: string | undefined;
  readonly lastDisconnection?: string | undefined;
  readonly lastSeenIp?: string | undefined;
  /** Key/values the device reported about itself on `<realm>/<id>/metadata`. */
  readonly metadata?: Readonly<Record<string, string | number | boolean>> | undefined;
  /**
   * Its metadata under the realm's indexed keys, as text (what the device search matches a value against), recorded
   * with the metadata; undefined when never recorded.
   */
  readonly indexedMetadata?: Readonly<Record<string, string>> | undefined;
  /** The device's issuance admission state (see core/admission.ts). */
  readonly issuance?: IssuanceAdmission | undefined;
}

export interface IssuanceAdmission {
  /** Until when (epoch ms) a credentials request holds the device's one issuance slot, if one does. */
  readonly lease: number | undefined;
  /** The issuance budget's state after the last billed issuance. */
  readonly tat: number | undefined;
  /** When (epoch ms) the budget admits the next billed issuance. */
  readonly admitAt: number | undefined;
  /** Idempotency key of the last billed issuance: a retry with the same CSR is a free replay. */
  readonly lastKey: string | undefined;
  /**
   * A turn the account's AWS request budget reserved for the device (use-cases/issuance-turn.ts): from `turnAt`
   * to `turnUntil` (epoch ms) its next issuance is admitted without taking from the budget again.
   */
  readonly turnAt?: number | undefined;
  readonly turnUntil?: number | undefined;
}

/**
 * current → superseded (a newer one was issued; usable until graceUntil) → retired;
 * current → retired (expired); current/superseded → revoked (inhibit with revoke, unregister) → retired.
 * Retired certificates are gone from IoT; their record stays (for verify) until its TTL.
 */
export type CertificateState = "current" | "superseded" | "revoked" | "retired";
export type RetiredReason = "expired" | "superseded" | "revoked";

export interface CertificateRecord {
  readonly realm: string;
  readonly deviceId: string;
  /** Serial number, lowercase hex without separators. */
  readonly serial: string;
  /** IoT certificate id (SHA-256 of the DER) and ARN. */
  readonly iotCertificateId: string;
  readonly iotCertificateArn: string;
  /**
   * The CA that issued it (Private CA: the CA's ARN), where it is revoked; absent on records written before
   * issuers were recorded.
   */
  readonly issuer?: string | undefined;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuedAt: string;
  readonly state: CertificateState;
  /** For a superseded certificate: until when it stays usable. */
  readonly graceUntil: string | undefined;
  /** Why it was retired, once it is. */
  readonly retiredReason?: RetiredReason | undefined;
  /**
   * Already out of IoT (unusable on MQTT); only its revocation in the CA is left, the CA having been unavailable
   * when the sweeper tried. The sweeper comes back to it later (or retires it as expired at its expiry).
   */
  readonly revocationPending?: boolean | undefined;
}

/**
 * Written before a certificate is requested and deleted when its issuance is recorded (or compensated): if a
 * function dies in between, the sweeper finds the intent past its deadline and removes whatever certificate
 * the CA issued for it from IoT.
 */
export interface IssuanceIntent {
  readonly realm: string;
  readonly deviceId: string;
  readonly requestId: string;
  readonly createdAt: string;
  /** The CA's id for the requested certificate, once known. */
  readonly certificateRef?: string | undefined;
}

export type CredentialEventType =
  | "registered"
  | "issued"
  | "superseded"
  | "revoked"
  | "inhibited"
  | "uninhibited"
  | "expired"
  | "unregistered"
  | "secret_rotated";

/** One entry of a device's credential timeline. Never holds a secret, key or certificate. */
export interface CredentialEvent {
  readonly realm: string;
  readonly deviceId: string;
  readonly type: CredentialEventType;
  readonly at: string;
  readonly serial?: string | undefined;
  readonly reason?: string | undefined;
}

export const DEFAULT_GRACE_SECONDS = 3600;
/** A few renewals an hour: far above a healthy device (one every few days), far below a leaked secret's abuse. */
export const DEFAULT_ISSUANCE_BUDGET_PER_HOUR = 6;
/** The current certificate, the one it just superseded, and one more. */
export const DEFAULT_MAX_LIVE_CERTIFICATES = 3;

export type DeviceRegistrationStatus = "pending" | "confirmed" | "inhibited";

export function deviceStatusOf(device: Device): DeviceRegistrationStatus {
  if (device.credentialsInhibited) return "inhibited";
  return device.firstCredentialsRequest ? "confirmed" : "pending";
}
