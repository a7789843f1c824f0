import "reflect-metadata";
import { createPublicKey, generateKeyPairSync, sign, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { beforeAll, describe, expect, it } from "vitest";
import { DerError, oidOf, readElement, readRoot, TAG } from "../../functions/core/der.ts";
import { ValidationError } from "../../functions/core/errors.ts";
import { inspectCsr, parseCsr } from "../../functions/core/x509.ts";
import { ecCsr, rsaCsr } from "../support/csr-variants.ts";

const CN = "test-realm:Xg3m1zbVQX2nMrkTHJYR7w";

// Made by `openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -utf8
// -subj "/O=Fixture/CN=fixture-realm:device-1"`: another encoder than the one the tests use below.
const OPENSSL_CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIHuMIGVAgEAMDMxEDAOBgNVBAoMB0ZpeHR1cmUxHzAdBgNVBAMMFmZpeHR1cmUt
cmVhbG06ZGV2aWNlLTEwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARBmitRXVtO
36Pz7VIlh0vSg3DASqP4QGkpjdnwpviBcV8+CMsMkNWvwhjoaUBBGoYALpfB5UHR
KCKHU9Dk677ZoAAwCgYIKoZIzj0EAwIDSAAwRQIhAKDXe/Y4CAnKJZVD4d7D1GTE
WQALEviZdIb6pw5ht07vAiBxfeH8w6+e6Y97R3ulEj9vzmB5HoQPpbIjp1KtBQ5a
rA==
-----END CERTIFICATE REQUEST-----`;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

async function csrFor(
  name: string,
  algorithm: Record<string, unknown> & { name: string },
  signingAlgorithm: Record<string, unknown> = algorithm,
): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  return (await x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm })).toString(
    "pem",
  );
}

const derOf = (pem: string) =>
  Buffer.from(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");
const pemOf = (der: Buffer) =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64").replace(/.{1,64}/g, "$&\n")}-----END CERTIFICATE REQUEST-----`;

/** The `csr` message inspectCsr refused with; throws if it accepted or failed in any other way. */
function refusal(pem: string, cn = CN): string {
  try {
    inspectCsr(pem, cn);
  } catch (error) {
    if (error instanceof ValidationError) return String(error.fields.csr?.[0]);
    throw error;
  }
  throw new Error("accepted");
}

describe("inspectCsr", () => {
  let p256: string;
  beforeAll(async () => {
    p256 = await ecCsr(CN, "P-256");
  });

  it("accepts EC P-256, EC P-384 and RSA-2048 requests naming the device, and returns their key", async () => {
    for (const pem of [p256, await ecCsr(CN, "P-384"), await rsaCsr(CN, 2048)]) {
      const inspected = inspectCsr(pem, CN);
      const fromLibrary = Buffer.from(new x509.Pkcs10CertificateRequest(pem).publicKey.rawData);
      expect(inspected.publicKeyDer.equals(fromLibrary)).toBe(true);
      expect(createPublicKey({ key: inspected.publicKeyDer, format: "der", type: "spki" }).type).toBe(
        "public",
      );
    }
  });

  it("accepts a request made by OpenSSL (UTF8String CN, another attribute before it)", () => {
    expect(inspectCsr(OPENSSL_CSR, "fixture-realm:device-1").publicKeyDer.length).toBe(91);
    expect(refusal(OPENSSL_CSR, "fixture-realm:device-2")).toBe("subject does not match the device");
  });

  it("refuses another device's name, no CN, and two CNs", async () => {
    const ec = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    expect(refusal(p256, "test-realm:another")).toBe("subject does not match the device");
    expect(refusal(await csrFor("O=Tether", ec))).toBe("subject does not match the device");
    expect(refusal(await csrFor(`CN=${CN}, CN=${CN}`, ec))).toBe("subject does not match the device");
    // A multi-valued RDN holding the CN, in either order: its certificate's subject is not the device's name.
    expect(refusal(await csrFor(`CN=${CN}+O=Devices`, ec))).toBe("subject does not match the device");
    expect(refusal(await csrFor(`O=Devices+CN=${CN}`, ec))).toBe("subject does not match the device");
  });

  it("refuses weak or unsupported keys and signature algorithms", async () => {
    expect(refusal(await rsaCsr(CN, 1024))).toMatch(/at least 2048 bits/);
    expect(refusal(await ecCsr(CN, "P-521"))).toMatch(/at least 2048 bits/);
    const rsa = {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
    };
    expect(refusal(await csrFor(`CN=${CN}`, { ...rsa, hash: "SHA-1" }))).toMatch(/must be signed with/);
    const pss = { ...rsa, name: "RSA-PSS", hash: "SHA-256" };
    const pssCsr = await csrFor(`CN=${CN}`, pss, { ...pss, saltLength: 32 });
    expect(refusal(pssCsr)).toMatch(/must be signed with|at least 2048 bits/);
  });

  it("refuses a request whose signature or signed part was altered", () => {
    const der = derOf(p256);
    const signatureByte = Buffer.from(der);
    signatureByte[der.length - 5] = (signatureByte[der.length - 5] as number) ^ 0x01;
    expect(refusal(pemOf(signatureByte))).toMatch(/signature does not verify|not a valid PEM CSR/);
    const nameByte = Buffer.from(der);
    const at = nameByte.indexOf(Buffer.from(CN));
    nameByte[at + CN.length - 1] = (nameByte[at + CN.length - 1] as number) ^ 0x01;
    expect(refusal(pemOf(nameByte))).toBe("signature does not verify");
  });

  it("refuses every truncation and every single-byte corruption with a validation error", () => {
    const der = derOf(p256);
    let tried = 0;
    for (let n = 0; n < der.length; n++) {
      expect(refusal(pemOf(der.subarray(0, n)))).toMatch(/./);
      tried++;
    }
    for (let i = 0; i < der.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const mutated = Buffer.from(der);
        mutated[i] = (mutated[i] as number) ^ mask;
        expect(refusal(pemOf(mutated))).toMatch(/./);
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(4 * der.length - 1);
  });

  it("reads requests other encoders write: no attributes field, NULL ECDSA parameters, PrintableString CN", () => {
    // A minimal DER writer, to build the variants byte by byte and sign them with node:crypto.
    const tlv = (tag: number, ...parts: Buffer[]) => {
      const body = Buffer.concat(parts);
      const n = body.length;
      const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
      return Buffer.concat([Buffer.from([tag, ...length]), body]);
    };
    const oid = (hex: string) => tlv(0x06, Buffer.from(hex, "hex"));
    const ECDSA_SHA256 = "2a8648ce3d040302";
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = publicKey.export({ format: "der", type: "spki" });
    const request = (options: { attributes: boolean; nullParameters: boolean; cnTag: number }) => {
      const name = tlv(0x30, tlv(0x31, tlv(0x30, oid("550403"), tlv(options.cnTag, Buffer.from(CN)))));
      const info = tlv(
        0x30,
        tlv(0x02, Buffer.from([0])),
        name,
        spki,
        ...(options.attributes ? [tlv(0xa0)] : []),
      );
      const algorithm = tlv(0x30, oid(ECDSA_SHA256), ...(options.nullParameters ? [tlv(0x05)] : []));
      const signature = sign("sha256", info, privateKey);
      return pemOf(tlv(0x30, info, algorithm, tlv(0x03, Buffer.from([0]), signature)));
    };
    for (const variant of [
      { attributes: true, nullParameters: false, cnTag: 0x0c },
      { attributes: false, nullParameters: false, cnTag: 0x0c },
      { attributes: true, nullParameters: true, cnTag: 0x13 },
    ]) {
      expect(inspectCsr(request(variant), CN).publicKeyDer.equals(spki), JSON.stringify(variant)).toBe(true);
    }
    // A CN in a string type a name cannot be compared in (UniversalString) names no device.
    expect(refusal(request({ attributes: true, nullParameters: false, cnTag: 0x1c }))).toBe(
      "subject does not match the device",
    );
  });

  it("refuses more than one PEM block, trailing bytes and oversized input", () => {
    expect(refusal(`${p256}\n${p256}`)).toBe("is not a valid PEM CSR");
    expect(refusal(pemOf(Buffer.concat([derOf(p256), Buffer.from([0])])))).toBe("is not a valid PEM CSR");
    expect(refusal(`${"A".repeat(20_000)}`)).toBe("is not a valid PEM CSR");
  });
});

describe("the DER reader", () => {
  const expectDerError = (f: () => unknown, message: RegExp) => {
    expect(f).toThrow(DerError);
    expect(f).toThrow(message);
  };

  it("reads short and long definite lengths", () => {
    expect(readElement(Buffer.from([0x04, 0x02, 1, 2]), 0, 4)).toEqual({
      tag: 4,
      start: 0,
      contentStart: 2,
      end: 4,
    });
    const long = Buffer.concat([Buffer.from([0x04, 0x81, 0x80]), Buffer.alloc(0x80)]);
    expect(readElement(long, 0, long.length).end).toBe(long.length);
  });

  it("refuses BER-only and out-of-bounds encodings", () => {
    expectDerError(() => readElement(Buffer.from([0x30, 0x80, 0, 0]), 0, 4), /indefinite length/);
    expectDerError(() => readElement(Buffer.from([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), 0, 8), /non-minimal/);
    expectDerError(() => readElement(Buffer.from([0x04, 0x82, 0x00, 0x90]), 0, 4), /non-minimal/);
    expectDerError(() => readElement(Buffer.from([0x1f, 0x01, 0x00]), 0, 3), /high tag number/);
    expectDerError(() => readElement(Buffer.from([0x04, 0x05, 1]), 0, 3), /truncated contents/);
    expectDerError(() => readElement(Buffer.from([0x04, 0x84, 1, 0, 0, 0]), 0, 6), /length too large/);
    expectDerError(() => readRoot(Buffer.from([0x30, 0x00, 0x00]), TAG.sequence), /trailing bytes/);
    expectDerError(() => parseCsr(Buffer.from([0x30, 0x00])), /missing element/);
  });

  it("reads object identifiers, refusing padded or truncated arcs", () => {
    const oid = (bytes: number[]) => {
      const der = Buffer.from([0x06, bytes.length, ...bytes]);
      return oidOf(der, readElement(der, 0, der.length));
    };
    expect(oid([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])).toBe("1.2.840.10045.4.3.2");
    expect(oid([0x55, 0x04, 0x03])).toBe("2.5.4.3");
    expect(() => oid([0x2a, 0x80, 0x01])).toThrow(/non-minimal/);
    expect(() => oid([0x2a, 0x86])).toThrow(/truncated/);
  });
});
