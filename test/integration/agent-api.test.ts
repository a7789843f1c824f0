import { ListThingsCommand } from "@aws-sdk/client-iot";
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { devicePath, pairDevice, registerDevice, requestCertificate } from "../support/device.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

describe("agent API: register, unregister, rotate secret", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  const register = async (body: unknown, token?: string, realmName = realm.name) =>
    tether.request("POST", `/pairing/v1/${realmName}/agent/devices`, {
      token: token ?? (await realm.jwt()),
      body,
    });

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("agents");
  });
  afterAll(async () => tether.close());

  it("registers a device, creating its IoT thing, with introspection", async () => {
    const id = randomDeviceId();
    const response = await register({
      data: { hw_id: id, initial_introspection: { "org.example.Meter": { major: 1, minor: 2 } } },
    });
    expect(response.status).toBe(201);
    expect(response.body.data.credentials_secret).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const things = await testBed().clients.iot.send(new ListThingsCommand({}));
    expect(things.things?.map((t) => t.thingName)).toContain(`agents:${id}`);
    const status = await tether.request("GET", `/appengine/v1/agents/devices/${id}`, {
      token: await realm.jwt(),
    });
    expect(status.body.data.introspection).toEqual({ "org.example.Meter": { major: 1, minor: 2 } });
  });

  it("re-registering a pending device returns a new secret and the old one stops working", async () => {
    const id = randomDeviceId();
    const first = await registerDevice(tether, realm, id);
    const second = await registerDevice(tether, realm, id);
    expect(second).not.toBe(first);
    expect((await tether.request("GET", devicePath("agents", id), { token: first })).status).toBe(403);
    expect((await tether.request("GET", devicePath("agents", id), { token: second })).status).toBe(200);
  });

  it("accepts an extended id and uses its canonical 128-bit form", async () => {
    const id = randomDeviceId();
    const extended = `${id}${"AAAA"}`;
    const response = await register({ data: { hw_id: extended } });
    expect(response.status).toBe(201);
    const info = await tether.request("GET", devicePath("agents", id), {
      token: response.body.data.credentials_secret,
    });
    expect(info.status).toBe(200);
  });

  it.each([
    ["missing hw_id", { data: {} }, { hw_id: ["can't be blank"] }],
    ["empty hw_id", { data: { hw_id: "" } }, { hw_id: ["can't be blank"] }],
    ["short hw_id", { data: { hw_id: "abc" } }, { hw_id: ["is not a valid base64 encoded 128 bits id"] }],
    [
      "hw_id with a slash",
      { data: { hw_id: "AJInS0w3VpWpuOqkXhg/dA" } },
      { hw_id: ["is not a valid base64 encoded 128 bits id"] },
    ],
    ["hw_id of the wrong type", { data: { hw_id: 42 } }, { hw_id: ["must be a string"] }],
  ])("answers 422 for %s", async (_name, body, errors) => {
    const response = await register(body);
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ errors });
  });

  it("answers 422 for a negative introspection version", async () => {
    const response = await register({
      data: { hw_id: randomDeviceId(), initial_introspection: { "a.B": { major: -1, minor: 0 } } },
    });
    expect(response.status).toBe(422);
    expect(Object.keys(response.body.errors)).toEqual(["initial_introspection.a.B.major"]);
  });

  it.each([
    ["constructor", '{"constructor": {"major": 1, "minor": 0}}'],
    ["__proto__", '{"__proto__": {"major": 1, "minor": 0}}'],
    ["toString", '{"toString": {"major": 1, "minor": 0}}'],
    ["not a reverse domain name", '{"org..Meter": {"major": 1, "minor": 0}}'],
  ])("answers 422 for %s as an interface name, and creates nothing", async (_name, introspection) => {
    const id = randomDeviceId();
    const response = await tether.request("POST", "/pairing/v1/agents/agent/devices", {
      token: await realm.jwt(),
      rawBody: `{"data": {"hw_id": "${id}", "initial_introspection": ${introspection}}}`,
      headers: { "content-type": "application/json" },
    });
    expect([response.status, response.body]).toEqual([
      422,
      { errors: { initial_introspection: ["must map Astarte interface names to versions"] } },
    ]);
    const things = await testBed().clients.iot.send(new ListThingsCommand({}));
    expect(things.things?.map((t) => t.thingName)).not.toContain(`agents:${id}`);
  });

  it.each([
    ["not JSON", "{not json"],
    ["no data", JSON.stringify({ hw_id: "x" })],
    ["data not an object", JSON.stringify({ data: "x" })],
    ["empty body", ""],
  ])("answers 400 Bad request for a body that is %s", async (_name, rawBody) => {
    const response = await tether.request("POST", "/pairing/v1/agents/agent/devices", {
      token: await realm.jwt(),
      rawBody,
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ errors: { detail: "Bad request" } });
  });

  it("answers 401 Missing authorization token without a token", async () => {
    const response = await tether.request("POST", "/pairing/v1/agents/agent/devices", { body: { data: {} } });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({ errors: { detail: "Missing authorization token" } });
  });

  it("answers 401 Invalid JWT token for garbage, another realm's key, an expired token, alg none and HS256", async () => {
    const other = await generateKeyPair("ES256");
    const now = Math.floor(Date.now() / 1000);
    const foreign = await new SignJWT({ a_pa: [".*::.*"] })
      .setProtectedHeader({ alg: "ES256" })
      .sign(other.privateKey);
    const expired = await realm.jwt({ a_pa: [".*::.*"] }, { expiresInSeconds: -60 });
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ a_pa: [".*::.*"], exp: now + 60 })).toString("base64url")}.`;
    const hs256 = await new SignJWT({ a_pa: [".*::.*"] })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(realm.privateKeyPem));
    for (const token of ["garbage", foreign, expired, none, hs256]) {
      const response = await register({ data: { hw_id: randomDeviceId() } }, token);
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ errors: { detail: "Invalid JWT token" } });
    }
  });

  it("matches grants against the canonical device id, so an extended id cannot slip past an exclusion", async () => {
    const protectedDevice = await pairDevice(tether, realm, randomDeviceId());
    const id = protectedDevice.deviceId;
    // Everything but this one device, on Pairing and AppEngine alike.
    const token = await realm.jwt({
      a_pa: [`DELETE::agent/devices/(?!${id}$).*`, `POST::agent/devices/(?!${id}/).*`],
      a_aea: [`GET|PATCH::devices/(?!${id}($|/)).*`],
    });
    // The same device in its extended form (longer base64url, truncated to the same 128 bits).
    const extended = `${id}AAAAAA`;
    for (const [method, path] of [
      ["DELETE", `/pairing/v1/${realm.name}/agent/devices/${extended}`],
      ["POST", `/pairing/v1/${realm.name}/agent/devices/${extended}/credentials_secret`],
      ["GET", `/appengine/v1/${realm.name}/devices/${extended}`],
      ["PATCH", `/appengine/v1/${realm.name}/devices/${extended}`],
      ["GET", `/appengine/v1/${realm.name}/devices/${extended}/events`],
    ] as const) {
      const response = await tether.request(method, path, {
        token,
        ...(method === "PATCH" ? { body: { data: { credentials_inhibited: true } } } : {}),
      });
      expect(response.status, `${method} ${path}`).toBe(403);
    }
    const info = await tether.request("GET", devicePath(realm.name, id), { token: protectedDevice.secret });
    expect(info.body.data.status).toBe("confirmed");
    // Another device is still reachable with the same token.
    const other = randomDeviceId();
    await registerDevice(tether, realm, other);
    expect(
      (await tether.request("DELETE", `/pairing/v1/${realm.name}/agent/devices/${other}`, { token })).status,
    ).toBe(204);
  });

  it("answers 403 with the route when the a_pa claim does not cover it", async () => {
    for (const claims of [
      { a_pa: ["GET::agent/devices"] },
      { a_pa: ["POST::agent/devices/x"] },
      { a_aea: [".*::.*"] },
      {},
    ]) {
      const response = await register({ data: { hw_id: randomDeviceId() } }, await realm.jwt(claims));
      expect(response.status).toBe(403);
      expect(response.body).toEqual({
        errors: { detail: "Unauthorized access to POST agent/devices. Please verify your permissions" },
      });
    }
    const narrow = await register(
      { data: { hw_id: randomDeviceId() } },
      await realm.jwt({ a_pa: ["POST::agent/devices"] }),
    );
    expect(narrow.status).toBe(201);
  });

  it("answers 403 Forbidden for an unknown realm, even with a valid-looking token", async () => {
    for (const name of ["nosuchrealm", "Bad-Realm"]) {
      const response = await register({ data: { hw_id: randomDeviceId() } }, await realm.jwt(), name);
      expect(response.status).toBe(403);
      expect(response.body).toEqual({ errors: { detail: "Forbidden" } });
    }
  });

  it("enforces a realm's device limit for new devices only", async () => {
    const limited = await tether.createRealm("limited", { device_limit: 1 });
    const first = randomDeviceId();
    expect((await register({ data: { hw_id: first } }, await limited.jwt(), "limited")).status).toBe(201);
    const second = await register({ data: { hw_id: randomDeviceId() } }, await limited.jwt(), "limited");
    expect(second.status).toBe(422);
    expect(second.body).toEqual({ errors: { detail: "Device registration limit reached" } });
    // The refused device left no IoT thing behind: things exist only for devices that have a record.
    const things = (await testBed().clients.iot.send(new ListThingsCommand({}))).things ?? [];
    expect(things.filter((t) => t.thingName?.startsWith("limited:")).map((t) => t.thingName)).toEqual([
      `limited:${first}`,
    ]);
    // Re-registering the existing (pending) device is never blocked by the limit.
    expect((await register({ data: { hw_id: first } }, await limited.jwt(), "limited")).status).toBe(201);
  });

  it("unregisters a device: 204, its certificate leaves IoT, and it can be registered again", async () => {
    const id = randomDeviceId();
    const device = await pairDevice(tether, realm, id);
    const response = await tether.request("DELETE", `/pairing/v1/agents/agent/devices/${id}`, {
      token: await realm.jwt(),
    });
    expect(response.status).toBe(204);
    expect((await tether.request("GET", devicePath("agents", id), { token: device.secret })).status).toBe(
      403,
    );
    const status = await tether.request("GET", `/appengine/v1/agents/devices/${id}`, {
      token: await realm.jwt(),
    });
    expect(status.body.data).toMatchObject({ first_credentials_request: null, certificate: null });
    const secret = await registerDevice(tether, realm, id);
    await expect(requestCertificate(tether, "agents", id, secret)).resolves.toBeDefined();
  });

  it("answers 404 Device not found when unregistering an unknown or ill-formed device", async () => {
    for (const id of [randomDeviceId(), "not-an-id"]) {
      const response = await tether.request("DELETE", `/pairing/v1/agents/agent/devices/${id}`, {
        token: await realm.jwt(),
      });
      expect(response.status).toBe(404);
      expect(response.body).toEqual({ errors: { detail: "Device not found" } });
    }
  });

  it("rotates a device's secret without unregistering it (Tether extension)", async () => {
    const id = randomDeviceId();
    const device = await pairDevice(tether, realm, id);
    const rotated = await tether.request(
      "POST",
      `/pairing/v1/agents/agent/devices/${id}/credentials_secret`,
      {
        token: await realm.jwt(),
      },
    );
    expect(rotated.status).toBe(201);
    const secret = rotated.body.data.credentials_secret;
    expect((await tether.request("GET", devicePath("agents", id), { token: device.secret })).status).toBe(
      403,
    );
    const info = await tether.request("GET", devicePath("agents", id), { token: secret });
    expect(info.body.data.status).toBe("confirmed");
    const unknown = await tether.request(
      "POST",
      `/pairing/v1/agents/agent/devices/${randomDeviceId()}/credentials_secret`,
      {
        token: await realm.jwt(),
      },
    );
    expect(unknown.status).toBe(404);
  });

  it("answers 413 for a body over 64 KiB and 404 Page not found for an unknown route", async () => {
    const big = await register({ data: { hw_id: "A".repeat(70_000) } });
    expect(big.status).toBe(413);
    const missing = await tether.request("GET", "/pairing/v1/agents/nothing-here");
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ errors: { detail: "Page not found" } });
  });
});
