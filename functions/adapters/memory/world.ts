import "reflect-metadata";
import { randomBytes, webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { iotCertificateId } from "../../core/certificate-id.ts";
import type {
  CertificateAuthority,
  IssueRequest,
  RevocationReason,
} from "../../core/ports/certificate-authority.ts";
import type { ConnectionControl } from "../../core/ports/connection-control.ts";
import type { Clock } from "../../core/ports/system.ts";
import type { TransportRegistry } from "../../core/ports/transport-registry.ts";

/**
 * The rest of the AWS world in memory (Private CA, the IoT Core registry, IoT Core's data plane), with the
 * behaviours Tether relies on: the CA signs the CSR's key under the requested CN and validity and returns the
 * same certificate for a repeated idempotency key; IoT registers a certificate under the SHA-256 of its DER,
 * keeps its status, thing and policy; every call can be made to fail once (`fail`) so unit tests reach each
 * compensation branch. Not for production.
 */
type Operation =
  | keyof CertificateAuthority
  | keyof TransportRegistry
  | `connections.${keyof ConnectionControl}`;

export class Faults {
  private readonly pending = new Map<string, Error[]>();

  /** The next call of `operation` throws `error` (queue several to fail several calls). */
  fail(operation: Operation, error: Error = new Error(`${operation} failed`)): void {
    const list = this.pending.get(operation) ?? [];
    list.push(error);
    this.pending.set(operation, list);
  }

  /** Throws the queued error of `operation`, if any; every adapter call starts here. */
  check(operation: Operation): void {
    const error = this.pending.get(operation)?.shift();
    if (error) throw error;
  }
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** The in-memory CA's id, shaped like a Private CA ARN (certificate references start with it). */
export const MEMORY_CA_ARN = "arn:aws:acm-pca:memory:000000000000:certificate-authority/memory";

export class MemoryCertificateAuthority implements CertificateAuthority {
  /** Certificates issued, by reference (the CA's id for them). */
  readonly issued = new Map<string, { pem: string; serial: string }>();
  readonly revoked = new Map<string, RevocationReason>();
  private readonly byKey = new Map<string, string>();
  private root: Promise<{ pem: string; keys: webcrypto.CryptoKeyPair; name: string }> | undefined;
  /** Every request, for tests that count what was billed. */
  requests = 0;

  constructor(
    private readonly clock: Clock,
    private readonly faults = new Faults(),
  ) {}

  private ca() {
    this.root ??= (async () => {
      const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
        "sign",
        "verify",
      ])) as webcrypto.CryptoKeyPair;
      const now = this.clock.now().getTime();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        name: "CN=Tether in-memory CA",
        keys,
        signingAlgorithm: ALGORITHM,
        notBefore: new Date(now - 86_400_000),
        notAfter: new Date(now + 10 * 365 * 86_400_000),
        extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
      });
      return { pem: cert.toString("pem"), keys, name: cert.subject };
    })();
    return this.root;
  }

  async requestCertificate(request: IssueRequest): Promise<string> {
    this.faults.check("requestCertificate");
    const known = this.byKey.get(request.idempotencyKey);
    if (known) return known;
    this.requests += 1;
    const ca = await this.ca();
    const csr = new x509.Pkcs10CertificateRequest(request.csrPem);
    const serial = randomBytes(16)
      .toString("hex")
      .replace(/^[89a-f]/, "1");
    const now = this.clock.now().getTime();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      // As Private CA's ApiPassthrough does: the subject is what Tether asks for, not what the CSR says.
      subject: `CN=${request.commonName}`,
      issuer: ca.name,
      publicKey: csr.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: ALGORITHM,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + request.validitySeconds * 1000),
    });
    const ref = `${MEMORY_CA_ARN}/certificate/${serial}`;
    this.issued.set(ref, { pem: cert.toString("pem"), serial });
    this.byKey.set(request.idempotencyKey, ref);
    return ref;
  }

  async fetchCertificate(certificateRef: string): Promise<string> {
    this.faults.check("fetchCertificate");
    const issued = this.issued.get(certificateRef);
    if (!issued) throw new Error(`the CA has no certificate ${certificateRef}`);
    return issued.pem;
  }

  issuerOf(certificateRef: string): string {
    return certificateRef.slice(0, certificateRef.indexOf("/certificate/"));
  }

  async revokeCertificate(
    serial: string,
    reason: RevocationReason,
    issuer: string | undefined,
  ): Promise<void> {
    this.faults.check("revokeCertificate");
    // As Private CA does, a CA knows only its own certificates.
    if (issuer !== undefined && issuer !== MEMORY_CA_ARN) {
      throw new Error(`ResourceNotFoundException: ${issuer} is not this CA`);
    }
    if (!this.revoked.has(serial)) this.revoked.set(serial, reason);
  }

  async trustedCaCertificates(): Promise<readonly string[]> {
    this.faults.check("trustedCaCertificates");
    return [(await this.ca()).pem];
  }
}

export interface MemoryIotCertificate {
  readonly id: string;
  readonly arn: string;
  status: "ACTIVE" | "INACTIVE";
  thing: string | undefined;
  policy: boolean;
}

export class MemoryTransportRegistry implements TransportRegistry {
  /** Things by name (`<realm>:<device id>`), with their realm attribute. */
  readonly things = new Map<string, { realm: string; deviceId: string }>();
  readonly certificates = new Map<string, MemoryIotCertificate>();

  constructor(private readonly faults = new Faults()) {}

  async ensureThing(realm: string, deviceId: string): Promise<void> {
    this.faults.check("ensureThing");
    this.things.set(`${realm}:${deviceId}`, { realm, deviceId });
  }

  async listRealmThings(realm: string, limit: number): Promise<string[]> {
    this.faults.check("listRealmThings");
    return [...this.things.values()]
      .filter((thing) => thing.realm === realm)
      .slice(0, Math.min(limit, 250))
      .map((thing) => thing.deviceId);
  }

  async registerCertificate(
    certificatePem: string,
  ): Promise<{ certificateId: string; certificateArn: string }> {
    this.faults.check("registerCertificate");
    // IoT Core refuses what is not a certificate (parsed once per certificate: registering is not on a hot path
    // here, except in the fleet simulator); the id is the DER's hash.
    const id = iotCertificateId(new X509Certificate(certificatePem).raw);
    const existing = this.certificates.get(id);
    if (existing) {
      existing.status = "ACTIVE";
      return { certificateId: id, certificateArn: existing.arn };
    }
    const arn = `arn:aws:iot:memory:000000000000:cert/${id}`;
    this.certificates.set(id, { id, arn, status: "ACTIVE", thing: undefined, policy: false });
    return { certificateId: id, certificateArn: arn };
  }

  async attachCertificate(realm: string, deviceId: string, certificateArn: string): Promise<void> {
    this.faults.check("attachCertificate");
    const certificate = this.byArn(certificateArn);
    const thing = `${realm}:${deviceId}`;
    if (!certificate || !this.things.has(thing)) throw new Error("ResourceNotFoundException");
    certificate.thing = thing;
    certificate.policy = true;
  }

  async certificateArn(certificateId: string): Promise<string | undefined> {
    this.faults.check("certificateArn");
    return this.certificates.get(certificateId)?.arn;
  }

  async deactivateCertificate(certificateId: string): Promise<void> {
    this.faults.check("deactivateCertificate");
    const certificate = this.certificates.get(certificateId);
    if (certificate) certificate.status = "INACTIVE";
  }

  async removeCertificate(
    _realm: string,
    _deviceId: string,
    certificateId: string,
    _certificateArn: string,
  ): Promise<void> {
    this.faults.check("removeCertificate");
    this.certificates.delete(certificateId);
  }

  async removeThing(realm: string, deviceId: string): Promise<void> {
    this.faults.check("removeThing");
    const thing = `${realm}:${deviceId}`;
    for (const [id, certificate] of this.certificates) {
      if (certificate.thing === thing) this.certificates.delete(id);
    }
    this.things.delete(thing);
  }

  /** The ACTIVE certificates attached to a thing: what could connect. */
  active(realm: string, deviceId: string): MemoryIotCertificate[] {
    const thing = `${realm}:${deviceId}`;
    return [...this.certificates.values()].filter((c) => c.thing === thing && c.status === "ACTIVE");
  }

  /** The certificate an ARN names (`…:cert/<id>`, as IoT's ARNs end), found by its id. */
  private byArn(arn: string): MemoryIotCertificate | undefined {
    const found = this.certificates.get(arn.slice(arn.lastIndexOf("/") + 1));
    return found?.arn === arn ? found : undefined;
  }
}

export class MemoryConnectionControl implements ConnectionControl {
  /** Client ids connected now; `disconnect` removes one. */
  readonly connected = new Set<string>();
  readonly disconnected: string[] = [];

  constructor(private readonly faults = new Faults()) {}

  async disconnect(clientId: string): Promise<void> {
    this.faults.check("connections.disconnect");
    this.connected.delete(clientId);
    this.disconnected.push(clientId);
  }
}
