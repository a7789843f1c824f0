import { generateKeyPairSync, webcrypto, X509Certificate } from "node:crypto";
import {
  CreateThingCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  ListCertificatesCommand,
} from "@aws-sdk/client-iot";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import { ecCsr, rsaCsr } from "../support/csr-variants.ts";
import {
  credentialsPath,
  devicePath,
  type PairedDevice,
  pairDevice,
  registerDevice,
  verify,
} from "../support/device.ts";
import { connectDevice, endQuietly, waitForClose } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

const HOUR = 3600_000;

describe("device API: info, credentials, verify", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let device: PairedDevice;
  const csrFor = async (cn: string) => (await generateKeyAndCsr({ subject: `CN=${cn},O=Devices` })).csrPem;
  const credentials = (deviceId: string, secret: string, body: unknown) =>
    tether.request("POST", credentialsPath(realm.name, deviceId), { token: secret, body });

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("devices", { grace_seconds: 3600 });
    device = await pairDevice(tether, realm, randomDeviceId());
  });
  afterAll(async () => tether.close());

  describe("authentication", () => {
    it.each([
      ["no Authorization header", {}],
      ["another scheme", { authorization: "Basic abc" }],
      ["a bare token", { authorization: "abc" }],
      ["two Authorization values", { authorization: "Bearer a, Bearer b" }],
    ])("answers 401 Unauthorized for %s", async (_name, headers) => {
      const response = await tether.request("GET", devicePath(realm.name, device.deviceId), { headers });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ errors: { detail: "Unauthorized" } });
    });

    it("accepts the scheme in any case and with a colon (Bearer:)", async () => {
      for (const scheme of ["bearer", "BEARER", "Bearer:"]) {
        const response = await tether.request("GET", devicePath(realm.name, device.deviceId), {
          headers: { authorization: `${scheme} ${device.secret}` },
        });
        expect(response.status).toBe(200);
      }
    });

    it("answers 403 for a wrong secret, 404 for an unknown device, 403 for an unknown realm", async () => {
      const wrong = await tether.request("GET", devicePath(realm.name, device.deviceId), {
        token: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      });
      expect([wrong.status, wrong.body]).toEqual([403, { errors: { detail: "Forbidden" } }]);
      const unknown = await tether.request("GET", devicePath(realm.name, randomDeviceId()), {
        token: device.secret,
      });
      expect([unknown.status, unknown.body]).toEqual([404, { errors: { detail: "Device not found" } }]);
      const noRealm = await tether.request("GET", devicePath("elsewhere", device.deviceId), {
        token: device.secret,
      });
      expect([noRealm.status, noRealm.body]).toEqual([403, { errors: { detail: "Forbidden" } }]);
    });
  });

  describe("credentials", () => {
    it("supersedes the previous certificate; it stays valid through its grace, then verify says REVOKED", async () => {
      const d = await pairDevice(tether, realm, randomDeviceId());
      const { csrPem } = await generateKeyAndCsr({ subject: `CN=${d.cn}` });
      const renewed = await credentials(d.deviceId, d.secret, { data: { csr: csrPem } });
      expect(renewed.status).toBe(201);
      expect((await verify(tether, realm.name, d, d.certPem)).body.data.valid).toBe(true);
      expect((await verify(tether, realm.name, d, renewed.body.data.client_crt)).body.data.valid).toBe(true);
      tether.clock.advance(HOUR + 1000);
      try {
        const old = await verify(tether, realm.name, d, d.certPem);
        expect(old.body.data).toMatchObject({ valid: false, cause: "REVOKED", details: null });
        expect((await verify(tether, realm.name, d, renewed.body.data.client_crt)).body.data.valid).toBe(
          true,
        );
      } finally {
        tether.clock.advance(-(HOUR + 1000));
      }
    });

    it("answers 422 csr can't be blank, and is not a valid PEM CSR for garbage", async () => {
      for (const body of [{ data: {} }, { data: { csr: "" } }]) {
        const response = await credentials(device.deviceId, device.secret, body);
        expect([response.status, response.body]).toEqual([422, { errors: { csr: ["can't be blank"] } }]);
      }
      const csr = await csrFor(device.cn);
      for (const bad of [
        "garbage",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
        `${csr}\n${csr}`,
        device.certPem,
      ]) {
        const response = await credentials(device.deviceId, device.secret, { data: { csr: bad } });
        expect([response.status, response.body]).toEqual([
          422,
          { errors: { csr: ["is not a valid PEM CSR"] } },
        ]);
      }
    });

    it("refuses a CSR naming another device, with no certificate issued", async () => {
      const before = await testBed().clients.iot.send(new ListCertificatesCommand({}));
      const response = await credentials(device.deviceId, device.secret, {
        data: { csr: await csrFor(`${realm.name}/${randomDeviceId()}`) },
      });
      expect([response.status, response.body]).toEqual([
        422,
        { errors: { csr: ["subject does not match the device"] } },
      ]);
      const after = await testBed().clients.iot.send(new ListCertificatesCommand({}));
      expect(after.certificates?.length).toBe(before.certificates?.length);
    });

    it("refuses a CSR whose signature does not verify", async () => {
      const csr = new x509.Pkcs10CertificateRequest(await csrFor(device.cn));
      const raw = new Uint8Array(csr.rawData);
      raw[raw.length - 5] = (raw[raw.length - 5] ?? 0) ^ 0xff;
      const tampered = x509.PemConverter.encode(raw.buffer, "CERTIFICATE REQUEST");
      const response = await credentials(device.deviceId, device.secret, { data: { csr: tampered } });
      expect(response.status).toBe(422);
      expect(response.body.errors.csr[0]).toMatch(/signature does not verify|not a valid PEM CSR/);
    });

    it("refuses RSA-1024 and curves other than P-256/P-384", async () => {
      for (const csr of [await rsaCsr(device.cn, 1024), await ecCsr(device.cn, "P-521")]) {
        const response = await credentials(device.deviceId, device.secret, { data: { csr } });
        expect([response.status, response.body]).toEqual([
          422,
          { errors: { csr: ["key must be EC P-256, EC P-384 or RSA of at least 2048 bits"] } },
        ]);
      }
    });

    it("accepts RSA-2048 and EC P-384", async () => {
      const d = await pairDevice(tether, realm, randomDeviceId());
      for (const csr of [await ecCsr(d.cn, "P-384"), await rsaCsr(d.cn, 2048)]) {
        expect((await credentials(d.deviceId, d.secret, { data: { csr } })).status).toBe(201);
      }
    });

    it("answers 400 for a protocol other than astarte_mqtt_v1", async () => {
      const response = await tether.request(
        "POST",
        `${devicePath(realm.name, device.deviceId)}/protocols/coap/credentials`,
        {
          token: device.secret,
          body: { data: { csr: await csrFor(device.cn) } },
        },
      );
      expect([response.status, response.body]).toEqual([400, { errors: { detail: "Bad request" } }]);
    });

    it("leaves no ACTIVE certificate in IoT when a step after registration fails, and the retry succeeds", async () => {
      const { iot } = testBed().clients;
      const deviceId = randomDeviceId();
      const secret = await registerDevice(tether, realm, deviceId);
      const cn = `${realm.name}/${deviceId}`;
      const before = (await iot.send(new ListCertificatesCommand({}))).certificates ?? [];
      // Take the device's thing away: attaching the certificate fails after it was registered in IoT.
      await iot.send(new DeleteThingCommand({ thingName: `${realm.name}:${deviceId}` }));
      const failed = await credentials(deviceId, secret, { data: { csr: await csrFor(cn) } });
      expect(failed.status).toBe(500);
      expect(failed.body).toEqual({
        errors: { detail: "Internal server error", request_id: expect.any(String) },
      });
      const after = (await iot.send(new ListCertificatesCommand({}))).certificates ?? [];
      expect(after.map((c) => c.certificateId).sort()).toEqual(before.map((c) => c.certificateId).sort());
      // Nothing half-written: the device is still pending, with no certificate.
      const info = await tether.request("GET", devicePath(realm.name, deviceId), { token: secret });
      expect(info.body.data.status).toBe("pending");

      await iot.send(new CreateThingCommand({ thingName: `${realm.name}:${deviceId}` }));
      const retried = await credentials(deviceId, secret, { data: { csr: await csrFor(cn) } });
      expect(retried.status).toBe(201);
    });
    it("rolls a failed renewal back: the previous certificate stays current and valid", async () => {
      const { iot } = testBed().clients;
      const d = await pairDevice(tether, realm, randomDeviceId());
      const thingName = `${realm.name}:${d.deviceId}`;
      const arn = (
        await iot.send(
          new DescribeCertificateCommand({
            certificateId: iotCertificateId(new X509Certificate(d.certPem).raw),
          }),
        )
      ).certificateDescription?.certificateArn as string;
      await iot.send(new DetachThingPrincipalCommand({ thingName, principal: arn }));
      await iot.send(new DeleteThingCommand({ thingName }));
      const failed = await credentials(d.deviceId, d.secret, { data: { csr: await csrFor(d.cn) } });
      expect(failed.status).toBe(500);
      const status = await tether.request("GET", `/appengine/v1/${realm.name}/devices/${d.deviceId}`, {
        token: await realm.jwt(),
      });
      expect(status.body.data.certificate).toMatchObject({
        serial: new X509Certificate(d.certPem).serialNumber.toLowerCase(),
        state: "current",
      });
      expect((await verify(tether, realm.name, d, d.certPem)).body.data.valid).toBe(true);
      await iot.send(new CreateThingCommand({ thingName }));
      expect((await credentials(d.deviceId, d.secret, { data: { csr: await csrFor(d.cn) } })).status).toBe(
        201,
      );
    });
  });

  describe("verify", () => {
    it("answers 422 client_crt can't be blank", async () => {
      const response = await verify(tether, realm.name, device, "");
      expect([response.status, response.body]).toEqual([422, { errors: { client_crt: ["can't be blank"] } }]);
    });

    it("answers INVALID for garbage, INVALID_ISSUER for a foreign CA", async () => {
      const garbage = await verify(tether, realm.name, device, "not a certificate");
      expect(garbage.body.data).toEqual({
        valid: false,
        timestamp: expect.any(String),
        cause: "INVALID",
        details: null,
      });
      const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
      const pair = {
        privateKey: await webcrypto.subtle.importKey(
          "pkcs8",
          keys.privateKey.export({ format: "der", type: "pkcs8" }),
          algorithm,
          true,
          ["sign"],
        ),
        publicKey: await webcrypto.subtle.importKey(
          "spki",
          keys.publicKey.export({ format: "der", type: "spki" }),
          algorithm,
          true,
          ["verify"],
        ),
      };
      const foreign = await x509.X509CertificateGenerator.createSelfSigned({
        name: `CN=${device.cn}`,
        keys: pair,
        signingAlgorithm: algorithm,
        notBefore: new Date(Date.now() - HOUR),
        notAfter: new Date(Date.now() + HOUR),
      });
      const response = await verify(tether, realm.name, device, foreign.toString("pem"));
      expect(response.body.data.cause).toBe("INVALID_ISSUER");
    });

    it("answers NAME_NOT_PERMITTED for another device's certificate", async () => {
      const other = await pairDevice(tether, realm, randomDeviceId());
      const response = await verify(tether, realm.name, device, other.certPem);
      expect(response.body.data).toMatchObject({ valid: false, cause: "NAME_NOT_PERMITTED" });
    });

    it("answers EXPIRED once the clock passes notAfter; the device then pairs again with its secret", async () => {
      const d = await pairDevice(tether, realm, randomDeviceId());
      const notAfter = new X509Certificate(d.certPem).validToDate;
      const ahead = notAfter.getTime() - Date.now() + HOUR;
      tether.clock.advance(ahead);
      try {
        const response = await verify(tether, realm.name, d, d.certPem);
        expect(response.body.data).toMatchObject({ valid: false, cause: "EXPIRED" });
        expect((await credentials(d.deviceId, d.secret, { data: { csr: await csrFor(d.cn) } })).status).toBe(
          201,
        );
      } finally {
        tether.clock.advance(-ahead);
      }
    });
  });

  describe("inhibition (AppEngine PATCH)", () => {
    const patch = async (deviceId: string, data: unknown) =>
      tether.request("PATCH", `/appengine/v1/${realm.name}/devices/${deviceId}`, {
        token: await realm.jwt({ a_aea: [".*::.*"] }),
        body: { data },
        headers: { "content-type": "application/merge-patch+json" },
      });

    it("inhibits: info says inhibited, credentials 403; issued certificates stay valid; un-inhibit issues again", async () => {
      const d = await pairDevice(tether, realm, randomDeviceId());
      const inhibited = await patch(d.deviceId, { credentials_inhibited: true });
      expect(inhibited.status).toBe(200);
      expect(inhibited.body.data).toMatchObject({
        id: d.deviceId,
        credentials_inhibited: true,
        first_registration: expect.any(String),
        first_credentials_request: expect.any(String),
        last_credentials_request_ip: "127.0.0.1",
        certificate: { state: "current" },
      });
      const info = await tether.request("GET", devicePath(realm.name, d.deviceId), { token: d.secret });
      expect(info.body.data.status).toBe("inhibited");
      const refused = await credentials(d.deviceId, d.secret, { data: { csr: await csrFor(d.cn) } });
      expect([refused.status, refused.body]).toEqual([
        403,
        { errors: { detail: "Credentials request inhibited" } },
      ]);
      expect((await verify(tether, realm.name, d, d.certPem)).body.data.valid).toBe(true);

      expect((await patch(d.deviceId, { credentials_inhibited: false })).status).toBe(200);
      expect((await credentials(d.deviceId, d.secret, { data: { csr: await csrFor(d.cn) } })).status).toBe(
        201,
      );
    });

    it("inhibits with revoke_credentials: the connected device is dropped and its certificate is REVOKED", async () => {
      const d = await pairDevice(tether, realm, randomDeviceId());
      const tls = { caPem: testBed().env.caCertPem, certPem: d.certPem, keyPem: d.keyPem };
      const client = await connectDevice(testBed().brokerPort, d.cn, tls);
      try {
        const response = await patch(d.deviceId, { credentials_inhibited: true, revoke_credentials: true });
        expect(response.status).toBe(200);
        await waitForClose(client, 5_000);
      } finally {
        await endQuietly(client);
      }
      await expect(connectDevice(testBed().brokerPort, d.cn, tls)).rejects.toThrow(/Not authorized/);
      expect((await verify(tether, realm.name, d, d.certPem)).body.data).toMatchObject({
        valid: false,
        cause: "REVOKED",
      });
      const certificateId = iotCertificateId(new X509Certificate(d.certPem).raw);
      const described = await testBed().clients.iot.send(new DescribeCertificateCommand({ certificateId }));
      expect(described.certificateDescription?.status).toBe("INACTIVE");
    });

    it("answers 422 for unknown fields or wrong types, 404 for an unknown device, 403 without a_aea", async () => {
      const wrongType = await patch(device.deviceId, { credentials_inhibited: "yes" });
      expect(wrongType.status).toBe(422);
      expect(Object.keys(wrongType.body.errors)).toEqual(["credentials_inhibited"]);
      expect((await patch(device.deviceId, { surprise: 1 })).status).toBe(422);
      const unknown = await patch(randomDeviceId(), { credentials_inhibited: true });
      expect([unknown.status, unknown.body]).toEqual([404, { errors: { detail: "Device not found" } }]);
      const pairingOnly = await tether.request(
        "PATCH",
        `/appengine/v1/${realm.name}/devices/${device.deviceId}`,
        {
          token: await realm.jwt({ a_pa: [".*::.*"] }),
          body: { data: { credentials_inhibited: true } },
        },
      );
      expect(pairingOnly.status).toBe(403);
    });
  });

  it("an unregistered device's certificates are deactivated and deleted from IoT", async () => {
    const d = await pairDevice(tether, realm, randomDeviceId());
    const certificateId = iotCertificateId(new X509Certificate(d.certPem).raw);
    const response = await tether.request("DELETE", `/pairing/v1/${realm.name}/agent/devices/${d.deviceId}`, {
      token: await realm.jwt(),
    });
    expect(response.status).toBe(204);
    await expect(
      testBed().clients.iot.send(new DescribeCertificateCommand({ certificateId })),
    ).rejects.toThrow(/not found|does not exist/i);
    // A fresh registration starts over: pending.
    const secret = await registerDevice(tether, realm, d.deviceId);
    const info = await tether.request("GET", devicePath(realm.name, d.deviceId), { token: secret });
    expect(info.body.data.status).toBe("pending");
  });
});
