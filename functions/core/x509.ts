import "reflect-metadata";
import { createPublicKey, webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { VerifyCause } from "../contracts/pairing.ts";
import { ValidationError } from "./errors.ts";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const MAX_PEM_LENGTH = 16_384;
const CSR_BLOCK =
  /^-----BEGIN (NEW )?CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END (NEW )?CERTIFICATE REQUEST-----$/;
const CERT_BLOCK = /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----$/;

const csrInvalid = (message: string) => new ValidationError({ csr: [message] });

export interface InspectedCsr {
  /** The CSR's public key, SubjectPublicKeyInfo DER: what the issued certificate must carry. */
  readonly publicKeyDer: Buffer;
}

/**
 * Accepts a CSR only if it is exactly one PEM CSR, its self-signature verifies, its key is EC P-256/P-384 or
 * RSA ≥ 2048, and its subject CN is exactly `expectedCn` (the device's own identity).
 * @throws ValidationError on the `csr` field
 */
export async function inspectCsr(pem: string, expectedCn: string): Promise<InspectedCsr> {
  const text = pem.trim();
  if (text.length > MAX_PEM_LENGTH || !CSR_BLOCK.test(text)) throw csrInvalid("is not a valid PEM CSR");
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(text);
  } catch {
    throw csrInvalid("is not a valid PEM CSR");
  }
  const publicKeyDer = Buffer.from(csr.publicKey.rawData);
  if (!allowedKey(publicKeyDer))
    throw csrInvalid("key must be EC P-256, EC P-384 or RSA of at least 2048 bits");
  let signed = false;
  try {
    signed = await csr.verify();
  } catch {
    signed = false;
  }
  if (!signed) throw csrInvalid("signature does not verify");
  const cns = csr.subjectName.getField("CN");
  if (cns.length !== 1 || cns[0] !== expectedCn) throw csrInvalid("subject does not match the device");
  return { publicKeyDer };
}

function allowedKey(spkiDer: Buffer): boolean {
  try {
    const key = createPublicKey({ key: spkiDer, format: "der", type: "spki" });
    const details = key.asymmetricKeyDetails ?? {};
    if (key.asymmetricKeyType === "ec")
      return details.namedCurve === "prime256v1" || details.namedCurve === "secp384r1";
    if (key.asymmetricKeyType === "rsa") return (details.modulusLength ?? 0) >= 2048;
    return false;
  } catch {
    return false;
  }
}

export interface CertificateFacts {
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly commonName: string | undefined;
  readonly publicKeyDer: Buffer;
  readonly der: Buffer;
}

/** Reads what Tether needs from a certificate it issued (the CA's answer, not client input). */
export function certificateFacts(pem: string): CertificateFacts {
  return factsOf(new X509Certificate(pem));
}

function factsOf(cert: X509Certificate): CertificateFacts {
  return {
    serial: cert.serialNumber.toLowerCase(),
    notBefore: new Date(cert.validFromDate ?? cert.validFrom),
    notAfter: new Date(cert.validToDate ?? cert.validTo),
    commonName: commonNameOf(cert.subject),
    publicKeyDer: cert.publicKey.export({ format: "der", type: "spki" }),
    der: cert.raw,
  };
}

/** The CN of a subject as node:crypto prints it (one `KEY=value` per line). */
export function commonNameOf(subject: string): string | undefined {
  const cns = subject.split("\n").filter((line) => line.startsWith("CN="));
  return cns.length === 1 ? cns[0]?.slice(3) : undefined;
}

let caCache: { pem: string; certificate: X509Certificate } | undefined;

/** The CA certificate, parsed once per container (verify is on every device's reconnect path). */
function parsedCa(pem: string): X509Certificate {
  if (caCache?.pem !== pem) caCache = { pem, certificate: new X509Certificate(pem) };
  return caCache.certificate;
}

export type CertificateAssessment =
  | { readonly valid: true; readonly facts: CertificateFacts }
  | { readonly valid: false; readonly cause: VerifyCause; readonly facts?: CertificateFacts };

/**
 * The X.509 half of verify: is this a leaf issued by our CA, with a good signature, within its validity,
 * naming this device? (Tether's own record — superseded, revoked — is checked by the use-case.)
 */
export function assessCertificate(
  pem: string,
  caPem: string,
  expectedCn: string,
  now: Date,
): CertificateAssessment {
  const text = pem.trim();
  if (text.length > MAX_PEM_LENGTH || !CERT_BLOCK.test(text)) return { valid: false, cause: "INVALID" };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(text);
  } catch {
    return { valid: false, cause: "INVALID" };
  }
  const ca = parsedCa(caPem);
  const facts = factsOf(cert);
  if (!cert.checkIssued(ca)) return { valid: false, cause: "INVALID_ISSUER", facts };
  if (!cert.verify(ca.publicKey)) return { valid: false, cause: "INVALID_SIGNATURE", facts };
  // A device certificate is a leaf; one claiming to be a CA is not ours to accept.
  if (cert.ca) return { valid: false, cause: "INVALID", facts };
  if (now < facts.notBefore) return { valid: false, cause: "INVALID", facts };
  if (now > facts.notAfter) return { valid: false, cause: "EXPIRED", facts };
  if (facts.commonName !== expectedCn) return { valid: false, cause: "NAME_NOT_PERMITTED", facts };
  return { valid: true, facts };
}
