import { generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import type {
  CertificateAuthority,
  IssueRequest,
  RevocationReason,
} from "../functions/core/ports/certificate-authority.ts";
import type { Clock } from "../functions/core/ports/system.ts";

/*
 * Real X.509 at the simulator's pace. The in-memory CA and the SDK build certificates and CSRs with a general
 * ASN.1 library (about 5 ms each); a fleet of 50,000 devices renewing for two weeks needs some 200,000 of each.
 * These build the same DER by hand for the one shape Tether issues (EC P-256, ECDSA with SHA-256) and sign with
 * node:crypto: the use-cases still parse, verify and check every CSR and certificate as in production.
 */

const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const oid = (dotted: string): Buffer => {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [a * 40 + b];
  for (const value of rest) {
    const chunk = [value & 0x7f];
    for (let v = value >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
};
const integer = (value: Buffer) =>
  tlv(0x02, value[0] !== undefined && value[0] & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
const bitString = (value: Buffer) => tlv(0x03, Buffer.from([0]), value);
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"));
const name = (commonName: string) => seq(tlv(0x31, seq(oid("2.5.4.3"), utf8(commonName))));
const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));
const time = (at: Date) => {
  const iso = at.toISOString();
  return at.getUTCFullYear() < 2050
    ? tlv(
        0x17,
        Buffer.from(
          `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`,
        ),
      )
    : tlv(
        0x18,
        Buffer.from(
          `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`,
        ),
      );
};
const pem = (label: string, der: Buffer) =>
  `-----BEGIN ${label}-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").trimEnd()}\n-----END ${label}-----\n`;

/** A device's key pair (EC P-256): generated once, as a device keeps its key between renewals if it likes. */
export function deviceKey(): { privateKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, spki: publicKey.export({ type: "spki", format: "der" }) };
}

/**
 * A PKCS#10 CSR for `commonName`, signed by the key. `nonce` goes into an organizational unit so that each
 * renewal's CSR differs (its idempotency key is the CSR's hash: the same CSR twice is a replay).
 */
export function csrPem(
  key: { privateKey: KeyObject; spki: Buffer },
  commonName: string,
  nonce: string,
): string {
  const subject = seq(
    tlv(0x31, seq(oid("2.5.4.3"), utf8(commonName))),
    tlv(0x31, seq(oid("2.5.4.11"), utf8(nonce))),
  );
  const info = seq(integer(Buffer.from([0])), subject, key.spki, tlv(0xa0));
  const signature = sign("sha256", info, key.privateKey);
  return pem("CERTIFICATE REQUEST", seq(info, ECDSA_SHA256, bitString(signature)));
}

/**
 * Private CA in memory, fast: issues what Tether asks for (subject forced to the requested CN, the CSR's key,
 * the requested validity), honours the idempotency token for five minutes as Private CA does, and revokes.
 * Calls are counted per operation for the quota model.
 */
export class FastCertificateAuthority implements CertificateAuthority {
  readonly #key = generateKeyPairSync("ec", { namedCurve: "P-256" });
  readonly #issued = new Map<string, string>();
  readonly #byKey = new Map<string, { ref: string; at: number }>();
  readonly revoked = new Set<string>();
  #root: string | undefined;
  requests = 0;

  constructor(
    private readonly clock: Clock,
    /** Called before every operation (the quota and outage model may throw). */
    private readonly gate: (operation: string) => void = () => {},
  ) {}

  #rootPem(): string {
    if (this.#root) return this.#root;
    const now = this.clock.now();
    const subject = name("Tether simulated CA");
    const spki = this.#key.publicKey.export({ type: "spki", format: "der" });
    const basic = seq(
      oid("2.5.29.19"),
      tlv(0x01, Buffer.from([0xff])),
      tlv(0x04, seq(tlv(0x01, Buffer.from([0xff])))),
    );
    const tbs = seq(
      tlv(0xa0, integer(Buffer.from([2]))),
      integer(Buffer.from([1])),
      ECDSA_SHA256,
      subject,
      seq(time(new Date(now.getTime() - 86_400_000)), time(new Date(now.getTime() + 20 * 365 * 86_400_000))),
      subject,
      spki,
      tlv(0xa3, seq(basic)),
    );
    this.#root = pem(
      "CERTIFICATE",
      seq(tbs, ECDSA_SHA256, bitString(sign("sha256", tbs, this.#key.privateKey))),
    );
    return this.#root;
  }

  async requestCertificate(request: IssueRequest): Promise<string> {
    this.gate("acm-pca:IssueCertificate");
    const now = this.clock.now().getTime();
    const known = this.#byKey.get(request.idempotencyKey);
    if (known && now - known.at < 5 * 60_000) return known.ref;
    this.requests++;
    const csr = Buffer.from(request.csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const spki = extractSpki(csr);
    const serial = randomBytes(16);
    serial[0] = (serial[0] ?? 0) & 0x7f || 1;
    const tbs = seq(
      tlv(0xa0, integer(Buffer.from([2]))),
      integer(serial),
      ECDSA_SHA256,
      name("Tether simulated CA"),
      seq(time(new Date(now - 60_000)), time(new Date(now + request.validitySeconds * 1000))),
      name(request.commonName),
      spki,
    );
    const der = seq(tbs, ECDSA_SHA256, bitString(sign("sha256", tbs, this.#key.privateKey)));
    const ref = `arn:aws:acm-pca:sim:000000000000:certificate-authority/sim/certificate/${serial.toString("hex")}`;
    this.#issued.set(ref, pem("CERTIFICATE", der));
    this.#byKey.set(request.idempotencyKey, { ref, at: now });
    return ref;
  }

  async fetchCertificate(certificateRef: string): Promise<string> {
    this.gate("acm-pca:GetCertificate");
    const found = this.#issued.get(certificateRef);
    if (!found) throw new Error(`the CA has no certificate ${certificateRef}`);
    return found;
  }

  issuerOf(certificateRef: string): string {
    return certificateRef.slice(0, certificateRef.indexOf("/certificate/"));
  }

  async revokeCertificate(serial: string, _reason: RevocationReason, _issuer?: string): Promise<void> {
    this.gate("acm-pca:RevokeCertificate");
    this.revoked.add(serial);
  }

  async trustedCaCertificates(): Promise<readonly string[]> {
    return [await this.#rootPem()];
  }

  /** Drops what no request can ask for again (issued long ago): the simulator's memory stays flat. */
  forget(ref: string): void {
    this.#issued.delete(ref);
  }
}

/** The SubjectPublicKeyInfo inside a CSR: second element of its first element (DER walking, lengths ≤ 0xffff). */
function extractSpki(csr: Buffer): Buffer {
  const header = (at: number): { body: number; end: number } => {
    const first = csr[at + 1] ?? 0;
    if (first < 0x80) return { body: at + 2, end: at + 2 + first };
    const count = first & 0x7f;
    let length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | (csr[at + 2 + i] ?? 0);
    return { body: at + 2 + count, end: at + 2 + count + length };
  };
  const info = header(header(0).body);
  let at = info.body;
  for (let i = 0; i < 2; i++) at = header(at).end; // version, subject
  return csr.subarray(at, header(at).end);
}
