import { webcrypto, X509Certificate } from "node:crypto";
import { UpdateCertificateCommand } from "@aws-sdk/client-iot";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { MqttClient } from "mqtt";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import { provisionDeviceCertificate, type TestDeviceCertificate } from "../support/device-certificate.ts";
import { connectDevice, endQuietly, waitForClose } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";

const REALM = "test";
const DEVICE = "AJInS0w3VpWpuOqkXhgZdA";
const OTHER_DEVICE = "f0VMRgIBAQAAAAAAAAAAAA";
/** What a client sees when TLS, not MQTT, refuses it (an MQTT refusal says "Connection refused"). */
const TLS_REFUSAL = /closed before CONNACK|alert|ECONNRESET/;

describe("local IoT data plane (broker)", () => {
  let device: TestDeviceCertificate;
  let open: MqttClient[] = [];
  const tlsOf = (d: { certPem: string; keyPem: string }) => ({ caPem: testBed().env.caCertPem, ...d });
  const connect = async (clientId: string, d: { certPem: string; keyPem: string } = device) => {
    const client = await connectDevice(testBed().brokerPort, clientId, tlsOf(d));
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    device = await provisionDeviceCertificate(testBed(), REALM, DEVICE);
  });
  afterEach(async () => {
    await Promise.all(open.map(endQuietly));
    open = [];
  });

  it("registers the certificate under the SHA-256 of its DER, as IoT Core does", () => {
    expect(device.certificateId).toBe(iotCertificateId(new X509Certificate(device.certPem).raw));
  });

  it("admits an issued, registered, attached certificate and delivers under its own prefix", async () => {
    const client = await connect(device.cn);
    const received = new Promise<string>((resolve) =>
      client.once("message", (_t, payload) => resolve(String(payload))),
    );
    const granted = await client.subscribeAsync(`${device.cn}/#`, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    await client.publishAsync(`${device.cn}/metadata`, '{"model":"A300"}', { qos: 1 });
    expect(await received).toBe('{"model":"A300"}');
    // Introspection goes to the CN itself, which the policy allows too.
    await client.publishAsync(device.cn, "iface:1:0", { qos: 1 });
    expect(client.connected).toBe(true);
  });

  it("refuses a client id other than the certificate's CN", async () => {
    await expect(connect(`${REALM}/${OTHER_DEVICE}`)).rejects.toThrow(/Identifier rejected|refused/i);
  });

  it("drops a client that publishes outside its prefix", async () => {
    const client = await connect(device.cn);
    const closed = waitForClose(client, 5_000);
    client.publish(`${REALM}/${OTHER_DEVICE}/metadata`, "x", { qos: 0 });
    await closed;
  });

  it("refuses a subscription outside its prefix with SUBACK failure", async () => {
    const client = await connect(device.cn);
    // Read the SUBACK itself: mqtt.js reports a failed filter as an error, not as its return code.
    const codes = new Promise<unknown>((resolve) => {
      client.on("packetreceive", (packet) => {
        if (packet.cmd === "suback") resolve(packet.granted);
      });
    });
    client.subscribe([`${REALM}/${OTHER_DEVICE}/#`, "#", `${device.cn}/x`], { qos: 1 }, () => {});
    expect(await codes).toEqual([128, 128, 1]);
  });

  it("refuses a certificate that is registered but not attached to a thing", async () => {
    const lonely = await provisionDeviceCertificate(testBed(), REALM, OTHER_DEVICE, { attachThing: false });
    await expect(connect(lonely.cn, lonely)).rejects.toThrow(/Not authorized/i);
  });

  it("refuses a certificate without the device policy", async () => {
    const bare = await provisionDeviceCertificate(testBed(), REALM, OTHER_DEVICE, { attachPolicy: false });
    await expect(connect(bare.cn, bare)).rejects.toThrow(/Not authorized/i);
  });

  it("refuses a certificate from the private CA that was never registered in IoT", async () => {
    const unregistered = await provisionDeviceCertificate(testBed(), REALM, OTHER_DEVICE, {
      register: false,
    });
    await expect(connect(unregistered.cn, unregistered)).rejects.toThrow(/Not authorized/i);
  });

  it("refuses a self-signed certificate during the TLS handshake", async () => {
    const selfSigned = await selfSignedCertificate(`${REALM}/${DEVICE}`);
    // Node's TLS server closes the socket once verification fails; no MQTT byte is ever exchanged.
    await expect(connect(device.cn, selfSigned)).rejects.toThrow(TLS_REFUSAL);
  });

  it("refuses a client that presents no certificate", async () => {
    const port = testBed().brokerPort;
    const attempt = connectDevice(port, device.cn, {
      caPem: testBed().env.caCertPem,
      certPem: "",
      keyPem: "",
    });
    await expect(attempt).rejects.toThrow(TLS_REFUSAL);
  });

  it("drops a connected client whose certificate is set INACTIVE, and refuses it afterwards", async () => {
    const revocable = await provisionDeviceCertificate(testBed(), "other", DEVICE);
    const client = await connect(revocable.cn, revocable);
    await testBed().clients.iot.send(
      new UpdateCertificateCommand({ certificateId: revocable.certificateId, newStatus: "INACTIVE" }),
    );
    await waitForClose(client, 5_000);
    await expect(connect(revocable.cn, revocable)).rejects.toThrow(/Not authorized/i);
  });
});

async function selfSignedCertificate(cn: string): Promise<{ certPem: string; keyPem: string }> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: algorithm,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { certPem: cert.toString("pem"), keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") };
}
