import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import type { CertificateRecord, Device, Realm } from "../functions/core/model.ts";
import type { PairingDeps } from "../functions/core/pairing-deps.ts";
import type { CertificateAuthority } from "../functions/core/ports/certificate-authority.ts";
import type {
  BeginIssuanceInput,
  BeginIssuanceResult,
  DeviceStore,
  RecordIssuanceInput,
} from "../functions/core/ports/device-store.ts";
import type { TransportRegistry } from "../functions/core/ports/transport-registry.ts";
import { SecretHasher } from "../functions/core/secrets.ts";
import { generateKeyAndCsr } from "../sdk/csr.ts";

/**
 * In-memory stand-ins for the AWS adapters, only as much as the credentials and verify paths use, so the
 * benchmark measures Tether's own CPU and counts its sequential AWS round trips (each fake call waits
 * `latencyMs`). Not used by any test of behaviour: those run against the emulator.
 */
export interface BenchWorld {
  readonly deps: PairingDeps;
  readonly secret: string;
  readonly realm: Realm;
  readonly deviceId: string;
  /** CSRs with the certificate the fake CA will return for each. */
  readonly issuances: { csrPem: string; certificatePem: string }[];
  readonly caPem: string;
  setLatency(ms: number): void;
}

export async function benchWorld(count: number): Promise<BenchWorld> {
  let latencyMs = 0;
  const wait = () => (latencyMs > 0 ? new Promise<void>((r) => setTimeout(r, latencyMs)) : Promise.resolve());
  const hasher = new SecretHasher(Buffer.alloc(32, 7));
  const secret = Buffer.alloc(32, 9).toString("base64");
  const realm: Realm = {
    name: "bench",
    jwtPublicKeyPem: "",
    brokerUrl: "mqtts://broker:8883/",
    certificateValiditySeconds: 7 * 86_400,
    graceSeconds: 3600,
    deviceLimit: undefined,
    // The benchmark issues for one device over and over: no budget or cap gets in the way.
    issuanceBudgetPerHour: 3600,
    maxLiveCertificates: 20,
    deviceCount: 1,
    createdAt: new Date().toISOString(),
  };
  const deviceId = "AJInS0w3VpWpuOqkXhgZdA";
  let device: Device = {
    realm: realm.name,
    deviceId,
    secretHash: hasher.hash(secret),
    firstRegistration: new Date().toISOString(),
    firstCredentialsRequest: undefined,
    lastCredentialsRequestIp: undefined,
    credentialsInhibited: false,
    introspection: {},
    currentSerial: undefined,
  };
  const certificates = new Map<string, CertificateRecord>();

  // A CA and, ahead of time, the certificates it will "issue": signing is Private CA's work, not Tether's.
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const caKeys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=Bench CA",
    keys: caKeys,
    signingAlgorithm: algorithm,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86_400_000 * 30),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const issuances: { csrPem: string; certificatePem: string }[] = [];
  for (let i = 0; i < count; i++) {
    const { csrPem } = await generateKeyAndCsr({ subject: `CN=bench/${deviceId}` });
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (i + 1).toString(16).padStart(8, "0"),
      subject: `CN=bench/${deviceId}`,
      issuer: ca.subject,
      publicKey: csr.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: algorithm,
      notBefore: new Date(Date.now() - 300_000),
      notAfter: new Date(Date.now() + 7 * 86_400_000),
    });
    issuances.push({ csrPem, certificatePem: cert.toString("pem") });
  }
  const byCsr = new Map(issuances.map((i) => [i.csrPem, i.certificatePem]));

  const notUsed = () => {
    throw new Error("not used by the benchmark");
  };
  const store = new Proxy(
    {
      async getRealmAndDevice() {
        await wait();
        return { realm, device };
      },
      async getRealm() {
        await wait();
        return realm;
      },
      async beginIssuance(input: BeginIssuanceInput): Promise<BeginIssuanceResult> {
        await wait();
        const before = device;
        device = {
          ...device,
          issuance: { ...device.issuance, lease: input.leaseUntil } as Device["issuance"],
        };
        return { acquired: true, device: before };
      },
      async endIssuance() {
        await wait();
      },
      async listCertificates() {
        await wait();
        return [...certificates.values()];
      },
      async getCertificate(_realm: string, _id: string, serial: string) {
        await wait();
        return certificates.get(serial);
      },
      async putIntent() {
        await wait();
      },
      async setIntentCertificate() {
        await wait();
      },
      async recordIssuance(input: RecordIssuanceInput) {
        await wait();
        certificates.set(input.certificate.serial, input.certificate);
        device = { ...device, currentSerial: input.certificate.serial, firstCredentialsRequest: input.now };
      },
    },
    { get: (target, key) => (key in target ? target[key as keyof typeof target] : notUsed) },
  ) as unknown as DeviceStore;

  const authority: CertificateAuthority = {
    async requestCertificate(request) {
      await wait();
      return request.csrPem;
    },
    async fetchCertificate(ref) {
      await wait();
      const pem = byCsr.get(ref);
      if (!pem) throw new Error("unknown CSR");
      return pem;
    },
    revokeCertificate: notUsed,
    caCertificatePem: async () => ca.toString("pem"),
  };
  const transport: TransportRegistry = {
    ensureThing: notUsed,
    listRealmThings: notUsed,
    async registerCertificate() {
      await wait();
      return { certificateId: "id", certificateArn: "arn:aws:iot:x:1:cert/id" };
    },
    async attachCertificate() {
      await wait();
    },
    certificateArn: notUsed,
    removeThing: notUsed,
    deactivateCertificate: notUsed,
    removeCertificate: notUsed,
  };
  return {
    deps: {
      store,
      ca: authority,
      transport,
      connections: { disconnect: notUsed },
      clock: { now: () => new Date() },
      hasher: { hash: async (s) => hasher.hash(s), matches: async (s, h) => hasher.matches(s, h) },
      settings: {
        defaultBrokerUrl: "mqtts://broker:8883/",
        serviceVersion: "bench",
        defaultCertificateValiditySeconds: 604_800,
      },
    },
    secret,
    realm,
    deviceId,
    issuances,
    caPem: ca.toString("pem"),
    setLatency: (ms) => {
      latencyMs = ms;
    },
  };
}
