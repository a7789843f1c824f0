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
      const page = await get(`/devices?details=true&limit=2${from ? `&from=${from}` : ""}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((d: { id: string }) => d.id));
      const next: string | undefined = page.body.links.next;
      from = next ? (new URLSearchParams(next.split("?")[1]).get("from_token") ?? undefined) : undefined;
    } while (from);
    expect(seen).toEqual([...ids, paired.deviceId].sort());
    const all = await get("/devices?details=true");
    const withCert = all.body.data.find((d: { id: string }) => d.id === paired.deviceId);
    expect(withCert.certificate).toMatchObject({ state: "current" });
  });

  it("lists as astartectl asks (details=false: ids), following links.next over 120 devices 50 at a time", async () => {
    const big = await tether.createRealm("crowd");
    const token = await big.jwt();
    const ids = new Set<string>();
    for (let i = 0; i < 120; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const id = randomDeviceId();
          await registerDevice(tether, big, id);
          return id;
        }),
      );
      for (const id of batch) ids.add(id);
    }
    const seen: string[] = [];
    let path: string | undefined = "/v1/crowd/devices?details=false&limit=50";
    const pages: number[] = [];
    while (path) {
      const page = await tether.request("GET", `/appengine${path}`, { token });
      expect(page.status).toBe(200);
      expect(page.body.links.self).toBe(path);
      expect(page.body.data.every((d: unknown) => typeof d === "string")).toBe(true);
      pages.push(page.body.data.length);
      seen.push(...page.body.data);
      path = page.body.links.next;
      if (path) expect(path).toMatch(/^\/v1\/crowd\/devices\?details=false&from_token=[\w-]{22}&limit=50$/);
    }
    // Every id exactly once, in order (a last page may come back empty when the previous one ended the realm).
    expect(seen).toEqual([...ids].sort());
    expect(pages.slice(0, 2)).toEqual([50, 50]);
    // The default is Astarte's: ids.
    const plain = await tether.request("GET", "/appengine/v1/crowd/devices", { token });
    expect(typeof plain.body.data[0]).toBe("string");
    expect(plain.body.links.self).toBe("/v1/crowd/devices?details=false&limit=100");
  });

  it("answers 422 for a bad limit or cursor, 403 without a_aea", async () => {
    expect((await get("/devices?limit=0")).status).toBe(422);
    expect((await get("/devices?limit=abc")).status).toBe(422);
    expect((await get("/devices?from=../../x")).status).toBe(422);
    expect((await get("/devices?from_token=../../x")).status).toBe(422);
    expect((await get("/devices?details=yes")).status).toBe(422);
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
