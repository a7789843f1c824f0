import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/** A CSR with an RSA key of `bits` (tests of the key policy: RSA ≥ 2048 only). */
export async function rsaCsr(cn: string, bits: number): Promise<string> {
  const algorithm = {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: bits,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  };
  return csrWith(cn, algorithm);
}

/** A CSR with an EC key on `curve` (P-256/P-384 allowed; P-521 refused). */
export async function ecCsr(cn: string, curve: "P-256" | "P-384" | "P-521"): Promise<string> {
  return csrWith(cn, { name: "ECDSA", namedCurve: curve, hash: curve === "P-521" ? "SHA-512" : "SHA-256" });
}

async function csrWith(cn: string, algorithm: Record<string, unknown> & { name: string }): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  return (
    await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${cn}`,
      keys,
      signingAlgorithm: algorithm,
    })
  ).toString("pem");
}
