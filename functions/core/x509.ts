import { createPublicKey, type KeyObject, verify, X509Certificate } from "node:crypto";
import type { VerifyCause } from "../contracts/pairing.ts";
import {
  childrenOf,
  contentsOf,
  DerError,
  directoryStringOf,
  type Element,
  encodingOf,
  expectTag,
  oidOf,
  readRoot,
  TAG,
} from "./der.ts";
import { ValidationError } from "./errors.ts";

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
export function inspectCsr(pem: string, expectedCn: string): InspectedCsr {
  const text = pem.trim();
  const block = text.length > MAX_PEM_LENGTH ? null : CSR_BLOCK.exec(text);
  if (!block?.[2]) throw csrInvalid("is not a valid PEM CSR");
  let csr: ParsedCsr;
  try {
    csr = parseCsr(Buffer.from(block[2], "base64"));
  } catch (error) {
    if (error instanceof DerError) throw csrInvalid("is not a valid PEM CSR");
    throw error;
  }
  const key = allowedKey(csr.publicKeyDer);
  if (!key) throw csrInvalid("key must be EC P-256, EC P-384 or RSA of at least 2048 bits");
  const hash = SIGNATURE_ALGORITHMS.get(csr.signatureAlgorithm);
  if (!hash || hash.keyType !== key.asymmetricKeyType || csr.signatureParameters)
    throw csrInvalid("must be signed with ECDSA or RSA PKCS#1 v1.5 over SHA-256, SHA-384 or SHA-512");
  let signed = false;
  try {
    signed = verify(hash.digest, csr.signedPart, key, csr.signature);
  } catch {
    signed = false;
  }
  if (!signed) throw csrInvalid("signature does not verify");
  if (csr.commonNames.length !== 1 || csr.commonNames[0] !== expectedCn)
    throw csrInvalid("subject does not match the device");
  return { publicKeyDer: csr.publicKeyDer };
}

/** The signature algorithms a CSR may use (OID → digest and the key type it needs). SHA-1 and RSA-PSS are not. */
const SIGNATURE_ALGORITHMS = new Map<string, { digest: string; keyType: "ec" | "rsa" }>([
  ["1.2.840.10045.4.3.2", { digest: "sha256", keyType: "ec" }],
  ["1.2.840.10045.4.3.3", { digest: "sha384", keyType: "ec" }],
  ["1.2.840.10045.4.3.4", { digest: "sha512", keyType: "ec" }],
  ["1.2.840.113549.1.1.11", { digest: "sha256", keyType: "rsa" }],
  ["1.2.840.113549.1.1.12", { digest: "sha384", keyType: "rsa" }],
  ["1.2.840.113549.1.1.13", { digest: "sha512", keyType: "rsa" }],
]);

const COMMON_NAME = "2.5.4.3";

interface ParsedCsr {
  /** The DER of CertificationRequestInfo: what the signature covers. */
  readonly signedPart: Buffer;
  readonly publicKeyDer: Buffer;
  readonly commonNames: readonly (string | undefined)[];
  readonly signatureAlgorithm: string;
  /** Whether the algorithm identifier carries parameters other than NULL. */
  readonly signatureParameters: boolean;
  readonly signature: Buffer;
}

/**
 * Takes a PKCS#10 request (RFC 2986) apart:
 * `SEQUENCE { info SEQUENCE { version 0, subject Name, SubjectPublicKeyInfo, [0] attributes },
 * AlgorithmIdentifier, BIT STRING }`.
 * @throws DerError when it is not one, encoded in DER
 */
export function parseCsr(der: Buffer): ParsedCsr {
  const [info, algorithm, signature, ...extra] = childrenOf(der, readRoot(der, TAG.sequence));
  if (extra.length) throw new DerError("extra elements in CertificationRequest");
  const [version, subject, spki, attributes, ...more] = childrenOf(der, expectTag(info, TAG.sequence));
  if (more.length) throw new DerError("extra elements in CertificationRequestInfo");
  const versionBytes = contentsOf(der, expectTag(version, TAG.integer));
  if (versionBytes.length !== 1 || versionBytes[0] !== 0) throw new DerError("version is not 1 (0)");
  // Required by RFC 2986 (usually empty); a request without it is still signed over all it says: accepted.
  if (attributes) childrenOf(der, expectTag(attributes, TAG.context0));

  const [algorithmId, parameters, ...rest] = childrenOf(der, expectTag(algorithm, TAG.sequence));
  if (rest.length) throw new DerError("extra elements in AlgorithmIdentifier");
  const bits = contentsOf(der, expectTag(signature, TAG.bitString));
  if (bits.length < 2 || bits[0] !== 0) throw new DerError("signature is not a whole number of bytes");

  return {
    signedPart: encodingOf(der, info as Element),
    publicKeyDer: Buffer.from(encodingOf(der, expectTag(spki, TAG.sequence))),
    commonNames: commonNamesOf(der, expectTag(subject, TAG.sequence)),
    signatureAlgorithm: oidOf(der, algorithmId as Element),
    // ECDSA takes no parameters, RSA PKCS#1 v1.5 NULL or none; RSA-PSS (not accepted) takes a SEQUENCE.
    signatureParameters:
      parameters !== undefined && (parameters.tag !== TAG.null || parameters.end !== parameters.contentStart),
    signature: bits.subarray(1),
  };
}

/**
 * Every CN in a Name (`SEQUENCE OF SET OF SEQUENCE { type, value }`). A multi-valued RDN (`CN=…+O=…`) counts
 * as an unreadable CN: the subject a certificate gets from it is not the device's name alone, and no device
 * SDK writes one.
 */
function commonNamesOf(der: Buffer, name: Element): (string | undefined)[] {
  const names: (string | undefined)[] = [];
  for (const rdn of childrenOf(der, name)) {
    const attributes = childrenOf(der, expectTag(rdn, TAG.set));
    for (const attribute of attributes) {
      const [type, value, ...rest] = childrenOf(der, expectTag(attribute, TAG.sequence));
      if (!value || rest.length) throw new DerError("malformed name attribute");
      if (oidOf(der, type as Element) === COMMON_NAME) {
        names.push(attributes.length === 1 ? directoryStringOf(der, value) : undefined);
      }
    }
  }
  return names;
}

/** The key, when it is one Tether issues for: EC P-256 / P-384 or RSA of at least 2048 bits. */
function allowedKey(spkiDer: Buffer): KeyObject | undefined {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spkiDer, format: "der", type: "spki" });
  } catch {
    return undefined;
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec")
    return details.namedCurve === "prime256v1" || details.namedCurve === "secp384r1" ? key : undefined;
  if (key.asymmetricKeyType === "rsa") return (details.modulusLength ?? 0) >= 2048 ? key : undefined;
  return undefined;
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

const caCache = new Map<string, X509Certificate>();

/** A CA certificate, parsed once per container (verify is on every device's reconnect path). */
function parsedCa(pem: string): X509Certificate {
  let parsed = caCache.get(pem);
  if (!parsed) {
    // Two CAs at most are trusted at a time (the issuing one and a retiring one); a container lives long.
    if (caCache.size >= 4) caCache.clear();
    parsed = new X509Certificate(pem);
    caCache.set(pem, parsed);
  }
  return parsed;
}

export type CertificateAssessment =
  | { readonly valid: true; readonly facts: CertificateFacts }
  | { readonly valid: false; readonly cause: VerifyCause; readonly facts?: CertificateFacts };

/**
 * The X.509 half of verify: is this a leaf issued by one of our CAs (the issuing one, or one being retired),
 * with a good signature, within its validity, naming this device? (Tether's own record — superseded, revoked —
 * is checked by the use-case.)
 */
export function assessCertificate(
  pem: string,
  caPems: readonly string[],
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
  const facts = factsOf(cert);
  // checkIssued compares names and key identifiers; two CAs may share a name, so the signature decides.
  const issuers = caPems.map(parsedCa).filter((ca) => cert.checkIssued(ca));
  if (issuers.length === 0) return { valid: false, cause: "INVALID_ISSUER", facts };
  if (!issuers.some((ca) => cert.verify(ca.publicKey))) {
    return { valid: false, cause: "INVALID_SIGNATURE", facts };
  }
  // A device certificate is a leaf; one claiming to be a CA is not ours to accept.
  if (cert.ca) return { valid: false, cause: "INVALID", facts };
  if (now < facts.notBefore) return { valid: false, cause: "INVALID", facts };
  if (now > facts.notAfter) return { valid: false, cause: "EXPIRED", facts };
  if (facts.commonName !== expectedCn) return { valid: false, cause: "NAME_NOT_PERMITTED", facts };
  return { valid: true, facts };
}
