import { createHash } from "node:crypto";

/**
 * The id IoT Core gives a registered certificate: the SHA-256 of its DER encoding, lowercase hex.
 * Knowing it lets the broker and the issuer find a certificate in the registry without a lookup by PEM.
 */
export function iotCertificateId(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}
