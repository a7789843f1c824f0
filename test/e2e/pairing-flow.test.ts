import { X509Certificate } from "node:crypto";
import { DescribeCertificateCommand, ListThingPrincipalsCommand } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import { credentialsPath, devicePath, registerDevice, verify } from "../support/device.ts";
import { connectDevice, endQuietly } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

// The spec's test vector: UUIDv5(f79ad91f-…, "myidentifierdata").
const DEVICE = "AJInS0w3VpWpuOqkXhgZdA";

describe("a device pairs end to end and talks MQTT", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("meters");
  });
  afterAll(async () => tether.close());

  it("register → pending → CSR → certificate in IoT → MQTT → verify → confirmed → register again is refused", async () => {
    // Register (agent).
    const secret = await registerDevice(tether, realm, DEVICE);
    expect(secret).toMatch(/^[A-Za-z0-9+/]{43}=$/);

    // Info: pending, with the broker URL (explicit port).
    const info = await tether.request("GET", devicePath(realm.name, DEVICE), { token: secret });
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      data: {
        version: expect.any(String),
        status: "pending",
        protocols: { astarte_mqtt_v1: { broker_url: tether.brokerUrl } },
      },
    });

    // Credentials: the key never leaves the device.
    const { privateKeyPem, csrPem } = await generateKeyAndCsr({ subject: `CN=meters/${DEVICE},O=Devices` });
    const issued = await tether.request("POST", credentialsPath(realm.name, DEVICE), {
      token: secret,
      body: { data: { csr: csrPem } },
    });
    expect(issued.status).toBe(201);
    const certPem: string = issued.body.data.client_crt;
    expect(certPem.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(1);
    const cert = new X509Certificate(certPem);
    expect(cert.subject.split("\n")).toContain(`CN=meters/${DEVICE}`);
    expect(cert.checkIssued(new X509Certificate(testBed().env.caCertPem))).toBe(true);
    expect(cert.verify(new X509Certificate(testBed().env.caCertPem).publicKey)).toBe(true);
    expect(Date.parse(issued.body.data.renew_after)).toBeGreaterThan(Date.now());

    // Registered ACTIVE in IoT and attached to the device's thing.
    const { iot } = testBed().clients;
    const described = await iot.send(
      new DescribeCertificateCommand({ certificateId: iotCertificateId(cert.raw) }),
    );
    expect(described.certificateDescription?.status).toBe("ACTIVE");
    const principals = await iot.send(new ListThingPrincipalsCommand({ thingName: `meters:${DEVICE}` }));
    expect(principals.principals).toEqual([described.certificateDescription?.certificateArn]);

    // MQTT with the issued certificate: client id = CN, publish under its own prefix.
    const client = await connectDevice(testBed().brokerPort, `meters/${DEVICE}`, {
      caPem: testBed().env.caCertPem,
      certPem,
      keyPem: privateKeyPem,
    });
    try {
      await client.publishAsync(`meters/${DEVICE}/metadata`, '{"model":"MySmartMeter A300"}', { qos: 1 });
    } finally {
      await endQuietly(client);
    }

    // Verify: valid until the certificate's notAfter, in Astarte's timestamp form.
    const verified = await verify(tether, realm.name, { deviceId: DEVICE, secret }, certPem);
    expect(verified.status).toBe(200);
    expect(verified.body.data).toEqual({
      valid: true,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/),
      until: new Date(cert.validTo).toISOString().replace("T", " "),
      renew_after: issued.body.data.renew_after,
    });

    // Info: confirmed. Register again: 422 Device already registered.
    const confirmed = await tether.request("GET", devicePath(realm.name, DEVICE), { token: secret });
    expect(confirmed.body.data.status).toBe("confirmed");
    const again = await tether.request("POST", `/pairing/v1/${realm.name}/agent/devices`, {
      token: await realm.jwt(),
      body: { data: { hw_id: DEVICE } },
    });
    expect(again.status).toBe(422);
    expect(again.body).toEqual({ errors: { detail: "Device already registered" } });
  });
});
