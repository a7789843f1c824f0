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
}

export type CertificateState = "current" | "superseded" | "revoked";

export interface CertificateRecord {
  readonly realm: string;
  readonly deviceId: string;
  /** Serial number, lowercase hex without separators. */
  readonly serial: string;
  /** IoT certificate id (SHA-256 of the DER) and ARN. */
  readonly iotCertificateId: string;
  readonly iotCertificateArn: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuedAt: string;
  readonly state: CertificateState;
  /** For a superseded certificate: until when it stays usable. */
  readonly graceUntil: string | undefined;
}

export const DEFAULT_GRACE_SECONDS = 3600;

export function deviceStatusOf(device: Device): "pending" | "confirmed" | "inhibited" {
  if (device.credentialsInhibited) return "inhibited";
  return device.firstCredentialsRequest ? "confirmed" : "pending";
}
