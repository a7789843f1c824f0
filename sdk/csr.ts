import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface KeyAndCsr {
  /** PKCS#8 PEM of the new private key. It never leaves the caller. */
  readonly privateKeyPem: string;
  readonly csrPem: string;
}

export interface CsrOptions {
  /** Subject, RFC 4514 string, e.g. `CN=realm/device,O=Devices`. */
  readonly subject: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** `P-256` (default) or `P-384`. */
  readonly curve?: "P-256" | "P-384";
}

/** Generates an EC key pair on the device and a CSR for it: the private key never leaves the caller. */
export async function generateKeyAndCsr(options: CsrOptions): Promise<KeyAndCsr> {
  const curve = options.curve ?? "P-256";
  const algorithm = { name: "ECDSA", namedCurve: curve, hash: curve === "P-256" ? "SHA-256" : "SHA-384" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const names = [
    ...(options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: options.subject,
    keys,
    signingAlgorithm: algorithm,
    extensions: names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    privateKeyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    csrPem: csr.toString("pem"),
  };
}
