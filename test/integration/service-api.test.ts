import { generateKeyPairSync } from "node:crypto";
import { request as httpRequest } from "node:http";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import { credentialsPath, devicePath } from "../support/device.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

describe("health, version and housekeeping", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("house");
  });
  afterAll(async () => tether.close());

  it("answers health and version, globally and per realm; an unknown realm is 403", async () => {
    expect((await tether.request("GET", "/pairing/health")).status).toBe(200);
    expect((await tether.request("GET", "/pairing/health")).text).toBe("");
    expect((await tether.request("GET", "/pairing/v1/house/health")).status).toBe(200);
    expect((await tether.request("GET", "/pairing/v1/nowhere/health")).status).toBe(403);
    const version = await tether.request("GET", "/pairing/version");
    expect(version.body).toEqual({ data: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect((await tether.request("GET", "/pairing/v1/house/version")).body).toEqual(version.body);
    expect((await tether.request("GET", "/pairing/v1/nowhere/version")).status).toBe(403);
    const openapi = await tether.request("GET", "/pairing/openapi.json");
    expect(openapi.status).toBe(200);
    expect(openapi.body.openapi).toBe("3.1.0");
  });

  it("manages realms behind the admin credential", async () => {
    const admin = { token: tether.adminToken };
    expect((await tether.request("GET", "/housekeeping/v1/realms")).status).toBe(403);
    expect((await tether.request("GET", "/housekeeping/v1/realms", { token: "wrong" })).status).toBe(403);
    expect((await tether.request("GET", "/housekeeping/v1/realms", admin)).body).toEqual({ data: ["house"] });
    const shown = await tether.request("GET", "/housekeeping/v1/realms/house", admin);
    expect(shown.body.data).toMatchObject({
      realm_name: "house",
      broker_url: tether.brokerUrl,
      certificate_validity_seconds: 7 * 24 * 3600,
      grace_seconds: 3600,
      device_count: 0,
    });
    const duplicate = await tether.request("POST", "/housekeeping/v1/realms", {
      ...admin,
      body: { data: { realm_name: "house", jwt_public_key_pem: shown.body.data.jwt_public_key_pem } },
    });
    expect([duplicate.status, duplicate.body]).toEqual([
      422,
      { errors: { realm_name: ["has already been taken"] } },
    ]);
    const badKey = await tether.request("POST", "/housekeeping/v1/realms", {
      ...admin,
      body: { data: { realm_name: "other", jwt_public_key_pem: "nope" } },
    });
    expect([badKey.status, badKey.body]).toEqual([
      422,
      { errors: { jwt_public_key_pem: ["is not a PEM EC or RSA public key"] } },
    ]);
    const { publicKey } = await generateKeyPair("ES256");
    for (const data of [
      { realm_name: "Upper", jwt_public_key_pem: await exportSPKI(publicKey) },
      {
        realm_name: "ok",
        jwt_public_key_pem: await exportSPKI(publicKey),
        certificate_validity_seconds: 8 * 24 * 3600,
      },
      { realm_name: "ok", jwt_public_key_pem: await exportSPKI(publicKey), broker_url: "mqtts://host/" },
    ]) {
      expect(
        (await tether.request("POST", "/housekeeping/v1/realms", { ...admin, body: { data } })).status,
      ).toBe(422);
    }
    expect((await tether.request("GET", "/housekeeping/v1/realms/nothere", admin)).status).toBe(404);
    expect(
      (await tether.request("PATCH", "/housekeeping/v1/realms/nothere", { ...admin, body: { data: {} } }))
        .status,
    ).toBe(404);
    await tether.createRealm("doomed");
    expect((await tether.request("DELETE", "/housekeeping/v1/realms/doomed", admin)).status).toBe(204);
    expect((await tether.request("DELETE", "/housekeeping/v1/realms/doomed", admin)).status).toBe(404);
  });

  it("refuses private keys and weak keys as a realm's key, and never stores or echoes private material", async () => {
    const admin = { token: tether.adminToken };
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const privatePkcs8 = ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const privateSec1 = ec.privateKey.export({ type: "sec1", format: "pem" }).toString();
    const publicSpki = ec.publicKey.export({ type: "spki", format: "pem" }).toString();
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({
      type: "spki",
      format: "pem",
    });
    const k256 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey.export({
      type: "spki",
      format: "pem",
    });
    const refused = [
      privatePkcs8,
      privateSec1,
      `${publicSpki}${privatePkcs8}`,
      `${privatePkcs8}${publicSpki}`,
      rsa1024,
      k256,
    ];
    for (const pem of refused) {
      for (const [method, path, data] of [
        ["POST", "/housekeeping/v1/realms", { realm_name: "keyed", jwt_public_key_pem: pem }],
        ["PATCH", "/housekeeping/v1/realms/house", { jwt_public_key_pem: pem }],
      ] as const) {
        const answer = await tether.request(method, path, { ...admin, body: { data } });
        expect([answer.status, answer.body]).toEqual([
          422,
          { errors: { jwt_public_key_pem: ["is not a PEM EC or RSA public key"] } },
        ]);
      }
    }
    // A PKCS#1 RSA public key is accepted and stored as SPKI; nothing private is ever shown.
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    const created = await tether.request("POST", "/housekeeping/v1/realms", {
      ...admin,
      body: {
        data: { realm_name: "keyed", jwt_public_key_pem: rsa.export({ type: "pkcs1", format: "pem" }) },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.data.jwt_public_key_pem).toBe(rsa.export({ type: "spki", format: "pem" }));
    for (const shown of [created, await tether.request("GET", "/housekeeping/v1/realms/keyed", admin)]) {
      expect(shown.text).not.toMatch(/PRIVATE/);
    }
  });

  it("answers only loopback Host headers (no DNS rebinding of the local server)", async () => {
    const port = new URL(tether.url).port;
    const get = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: "127.0.0.1", port, path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    for (const host of ["evil.example", `evil.example:${port}`, "localhost.evil.example", "127.0.0.2"]) {
      expect(await get("/pairing/health", host), host).toBe(421);
      expect(await get("/housekeeping/v1/realms", host), host).toBe(421);
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "localhost"]) {
      expect(await get("/pairing/health", host), host).toBe(200);
    }
  });

  it("rotates a realm's JWT key: tokens of the old key stop working, the new key's work", async () => {
    const rotating = await tether.createRealm("rotating");
    const oldToken = await rotating.jwt();
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const patched = await tether.request("PATCH", "/housekeeping/v1/realms/rotating", {
      token: tether.adminToken,
      body: { data: { jwt_public_key_pem: await exportSPKI(publicKey), device_limit: 5, grace_seconds: 0 } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ device_limit: 5, grace_seconds: 0 });
    const register = (token: string) =>
      tether.request("POST", "/pairing/v1/rotating/agent/devices", {
        token,
        body: { data: { hw_id: randomDeviceId() } },
      });
    expect((await register(oldToken)).status).toBe(401);
    const newToken = await new SignJWT({ a_pa: [".*::.*"] })
      .setProtectedHeader({ alg: "ES256" })
      .sign(privateKey);
    expect((await register(newToken)).status).toBe(201);
    const cleared = await tether.request("PATCH", "/housekeeping/v1/realms/rotating", {
      token: tether.adminToken,
      body: { data: { device_limit: null } },
    });
    expect(cleared.body.data.device_limit).toBeUndefined();
    const bad = await tether.request("PATCH", "/housekeeping/v1/realms/rotating", {
      token: tether.adminToken,
      body: { data: { realm_name: "renamed" } },
    });
    expect(bad.status).toBe(422);
  });

  it("serves the exact request shapes of Astarte's Python SDK and astartectl", async () => {
    // astartectl pairing agent register: JWT with a_pa [".*::.*"], 60 s expiry, ES256.
    const deviceId = randomDeviceId();
    const registered = await tether.request("POST", "/pairing/v1/house/agent/devices", {
      headers: {
        authorization: `Bearer ${await realm.jwt({ a_pa: [".*::.*"] }, { expiresInSeconds: 60 })}`,
        "content-type": "application/json",
        accept: "application/json",
      },
      rawBody: JSON.stringify({ data: { hw_id: deviceId } }),
    });
    expect(registered.status).toBe(201);
    const secret = registered.body.data.credentials_secret;

    // Python SDK: credentials with a CSR (CN=<realm>/<id>, O=Devices, EC P-256), then GET info.
    const { csrPem } = await generateKeyAndCsr({ subject: `CN=house/${deviceId},O=Devices` });
    const python = { authorization: `Bearer ${secret}`, "content-type": "application/json" };
    const issued = await tether.request("POST", credentialsPath("house", deviceId), {
      headers: python,
      rawBody: JSON.stringify({ data: { csr: csrPem } }),
    });
    expect(issued.status).toBe(201);
    expect(issued.body.data.client_crt).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const info = await tether.request("GET", devicePath("house", deviceId), { headers: python });
    expect(info.body.data.protocols.astarte_mqtt_v1.broker_url).toMatch(/^mqtts:\/\/[^/]+:\d+\/$/);
    const verified = await tether.request("POST", `${credentialsPath("house", deviceId)}/verify`, {
      headers: python,
      rawBody: JSON.stringify({ data: { client_crt: issued.body.data.client_crt } }),
    });
    expect(verified.body.data.valid).toBe(true);

    // astartectl appengine devices inhibit (astarte-go): PATCH with merge-patch+json and an a_aea JWT.
    const inhibited = await tether.request("PATCH", `/appengine/v1/house/devices/${deviceId}`, {
      headers: {
        authorization: `Bearer ${await realm.jwt({ a_aea: [".*::.*"] }, { expiresInSeconds: 60 })}`,
        "content-type": "application/merge-patch+json",
        accept: "application/json",
      },
      rawBody: JSON.stringify({ data: { credentials_inhibited: true } }),
    });
    expect(inhibited.status).toBe(200);
    expect(inhibited.body.data.credentials_inhibited).toBe(true);
  });
});
