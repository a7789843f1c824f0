import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { pairDevice, registerDevice } from "../support/device.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

describe("AppEngine: device list and timeline", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  const get = async (path: string, claims?: Record<string, unknown>) =>
    tether.request("GET", `/appengine/v1/fleet${path}`, { token: await realm.jwt(claims) });

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("fleet");
  });
  afterAll(async () => tether.close());

  it("pages through the realm's devices in id order, with their status", async () => {
    const ids = await Promise.all(
      [0, 1, 2, 3, 4].map(async () => {
        const id = randomDeviceId();
        await registerDevice(tether, realm, id);
        return id;
      }),
    );
    const paired = await pairDevice(tether, realm, randomDeviceId());
    const seen: string[] = [];
    let from: string | undefined;
    do {
      const page = await get(`/devices?limit=2${from ? `&from=${from}` : ""}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((d: { id: string }) => d.id));
      from = page.body.links.next;
    } while (from);
    expect(seen).toEqual([...ids, paired.deviceId].sort());
    const all = await get("/devices");
    const withCert = all.body.data.find((d: { id: string }) => d.id === paired.deviceId);
    expect(withCert.certificate).toMatchObject({ state: "current" });
  });

  it("answers 422 for a bad limit or cursor, 403 without a_aea", async () => {
    expect((await get("/devices?limit=0")).status).toBe(422);
    expect((await get("/devices?limit=abc")).status).toBe(422);
    expect((await get("/devices?from=../../x")).status).toBe(422);
    expect((await get("/devices", { a_pa: [".*::.*"] })).status).toBe(403);
  });

  it("shows a device's credential timeline, newest first, without secrets", async () => {
    const d = await pairDevice(tether, realm, randomDeviceId());
    const events = await get(`/devices/${d.deviceId}/events`);
    expect(events.status).toBe(200);
    expect(events.body.data.map((e: { type: string }) => e.type)).toEqual(["issued", "registered"]);
    expect(events.text).not.toContain(d.secret);
    expect((await get(`/devices/${randomDeviceId()}/events`)).status).toBe(404);
  });
});
