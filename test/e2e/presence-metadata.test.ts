import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pairingDeps } from "../../functions/adapters/container.ts";
import { recordPresence } from "../../functions/core/use-cases/transport-events.ts";
import { randomDeviceId, TetherDevice } from "../../sdk/index.ts";
import { pairDevice, registerDevice } from "../support/device.ts";
import { connectDevice, endQuietly } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

describe("presence and metadata (Kaa's endpoint list, Astarte's device status)", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let stateRoot: string;
  const status = async (deviceId: string) =>
    (await tether.request("GET", `/appengine/v1/meters/devices/${deviceId}`, { token: await realm.jwt() }))
      .body.data;
  const eventually = async <T>(read: () => Promise<T>, check: (value: T) => boolean): Promise<T> => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const value = await read();
      if (check(value) || Date.now() > deadline) return value;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("meters");
    stateRoot = await mkdtemp(join(tmpdir(), "tether-meters-"));
  });
  afterAll(async () => {
    await rm(stateRoot, { recursive: true, force: true });
    await tether.close();
  });

  it("keeps presence right when IoT Core's lifecycle events arrive late, twice, or for a taken-over session", async () => {
    const deviceId = randomDeviceId();
    await registerDevice(tether, realm, deviceId);
    const clientId = `meters/${deviceId}`;
    const deps = { store: pairingDeps().store };
    const t = (seconds: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, seconds));
    const event = (connected: boolean, at: Date, disconnectReason?: string) =>
      recordPresence(deps, { clientId, connected, at, ip: "203.0.113.7", disconnectReason });
    expect(await event(true, t(20))).toBe("recorded");
    // The disconnection of an older session, delivered late: older than what is recorded.
    expect(await event(false, t(10))).toBe("stale");
    // The same connection event delivered twice.
    expect(await event(true, t(20))).toBe("recorded");
    // The old session closed because the device connected again with its client id (even if stamped later).
    expect(await event(false, t(25), "DUPLICATE_CLIENTID")).toBe("takeover");
    expect((await status(deviceId)).connected).toBe(true);
    expect(await event(false, t(30), "CONNECTION_LOST")).toBe("recorded");
    const shown = await status(deviceId);
    expect([shown.connected, shown.last_connection, shown.last_disconnection]).toEqual([
      false,
      t(20).toISOString(),
      t(30).toISOString(),
    ]);
  });

  it("shows a meter connected with its model and MAC, then disconnected", async () => {
    const deviceId = randomDeviceId();
    const meter = new TetherDevice({
      pairingUrl: `${tether.url}/pairing`,
      realm: "meters",
      deviceId,
      credentialsSecret: await registerDevice(tether, realm, deviceId),
      stateDir: join(stateRoot, deviceId),
      brokerCa: testBed().env.caCertPem,
    });
    await meter.connect();
    await meter.setMetadata({ model: "MySmartMeter A300", mac: "00-14-22-01-23-45" });
    const online = await eventually(
      () => status(deviceId),
      (s) => s.connected && s.metadata.model !== undefined,
    );
    expect(online).toMatchObject({
      connected: true,
      last_connection: expect.any(String),
      last_seen_ip: "127.0.0.1",
      metadata: { model: "MySmartMeter A300", mac: "00-14-22-01-23-45" },
    });
    await meter.setMetadata({ firmware: "1.2.3" });
    const merged = await eventually(
      () => status(deviceId),
      (s) => s.metadata.firmware !== undefined,
    );
    expect(merged.metadata).toEqual({
      model: "MySmartMeter A300",
      mac: "00-14-22-01-23-45",
      firmware: "1.2.3",
    });
    await meter.close();
    const offline = await eventually(
      () => status(deviceId),
      (s) => !s.connected,
    );
    expect(offline).toMatchObject({ connected: false, last_disconnection: expect.any(String) });
    const list = await tether.request("GET", "/appengine/v1/meters/devices?details=true", {
      token: await realm.jwt(),
    });
    expect(list.body.data.find((d: { id: string }) => d.id === deviceId).metadata.model).toBe(
      "MySmartMeter A300",
    );
  });

  it("ignores malformed or oversized metadata without touching the record or the connection", async () => {
    const d = await pairDevice(tether, realm, randomDeviceId());
    const client = await connectDevice(testBed().brokerPort, d.cn, {
      caPem: testBed().env.caCertPem,
      certPem: d.certPem,
      keyPem: d.keyPem,
    });
    try {
      await client.publishAsync(`${d.cn}/metadata`, '{"model":"A300"}', { qos: 1 });
      await eventually(
        () => status(d.deviceId),
        (s) => s.metadata.model === "A300",
      );
      for (const bad of [
        "not json",
        "[1,2]",
        '"text"',
        '{"nested":{"a":1}}',
        `{"long":"${"x".repeat(300)}"}`,
        JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]))),
        JSON.stringify({ pad: "x".repeat(5000) }),
      ]) {
        await client.publishAsync(`${d.cn}/metadata`, bad, { qos: 1 });
      }
      await client.publishAsync(`${d.cn}/metadata`, '{"ok":true}', { qos: 1 });
      const after = await eventually(
        () => status(d.deviceId),
        (s) => s.metadata.ok === true,
      );
      expect(after.metadata).toEqual({ model: "A300", ok: true });
      expect(client.connected).toBe(true);
    } finally {
      await endQuietly(client);
    }
  });
});
