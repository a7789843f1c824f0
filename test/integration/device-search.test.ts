import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAll } from "../../cli/bulk.ts";
import { pairingDeps } from "../../functions/adapters/container.ts";
import { deviceKey } from "../../functions/adapters/dynamo/items.ts";
import { VIEW_INDEX } from "../../functions/adapters/table-schema.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { type DeviceQuery, deviceSortKey, matchesDeviceQuery } from "../../functions/core/device-query.ts";
import type { Device } from "../../functions/core/model.ts";
import { recordMetadata } from "../../functions/core/use-cases/transport-events.ts";
import { DASHBOARD_GRANTS } from "../../local/dashboard-grants.ts";
import { ARTIFACTS, launchChromium } from "../support/browser.ts";
import { requestCertificate } from "../support/device.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

const DEVICES = 2_000;
const MODELS = ["A300", "B7", "C9"];
const LIMIT = 50;
/** The list's first row, when it is this device's (the page's CSP allows no evaluated strings). */
const firstRow = (id: string | undefined) => `#devices tbody tr:first-child[data-device="${id}"]`;

/**
 * Tether's device search through the AppEngine list, over a realm of 2,000 devices registered by the CLI's bulk
 * path, against moto: every supported query gives what the records say, and reads no more index entries than it
 * returns plus one page (DynamoDB's ScannedCount, summed over the search index's queries), so it stays cheap at
 * a million devices.
 */
describe("device search over 2,000 devices", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let records: Device[] = [];
  let scanned = 0;
  let dashboardToken = "";
  const counter = "countScanned";

  const get = async (query: string) =>
    tether.request("GET", `/appengine/v1/${realm.name}/devices?${query}`, { token: await realm.jwt() });

  /** Every page of a search through the API: the ids in order, and the largest excess of entries read per page. */
  const search = async (params: Record<string, string>) => {
    const ids: string[] = [];
    let worstExcess = Number.NEGATIVE_INFINITY;
    let token: string | undefined;
    do {
      scanned = 0;
      const query = new URLSearchParams({
        ...params,
        limit: String(LIMIT),
        ...(token ? { from_token: token } : {}),
      });
      const page = await get(query.toString());
      expect(page.status, page.text).toBe(200);
      ids.push(...page.body.data);
      worstExcess = Math.max(worstExcess, scanned - page.body.data.length);
      const next: string | undefined = page.body.links.next;
      token = next ? (new URLSearchParams(next.split("?")[1]).get("from_token") ?? undefined) : undefined;
    } while (token);
    return { ids, worstExcess };
  };

  const expected = (query: DeviceQuery) => {
    const byId = query.sort !== "last_seen";
    return records
      .filter((d) => matchesDeviceQuery(d, query))
      .map((d) => ({ id: d.deviceId, key: deviceSortKey(d, query.sort) }))
      .sort((a, b) => (byId ? 1 : -1) * Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)))
      .map((d) => d.id);
  };

  beforeAll(async () => {
    tether = await startLocalTether({
      dashboard: () => ({
        appengineUrl: `${tether.url}/appengine`,
        pairingUrl: `${tether.url}/pairing`,
        realm: realm.name,
        token: dashboardToken,
        metadataColumns: ["model"],
      }),
    });
    realm = await tether.createRealm(`search${randomBytes(3).toString("hex")}`, {
      indexed_metadata_keys: ["model"],
    });
    dashboardToken = await realm.jwt(DASHBOARD_GRANTS, { expiresInSeconds: 3600 });
    const ids = Array.from({ length: DEVICES }, () => randomDeviceId());
    const secrets = new Map<string, string>();
    const api = tether.api(await realm.jwt());
    const summary = await registerAll(
      ids,
      new Set(),
      async (deviceId) => {
        const { body } = await api.call("registerDevice", {
          params: { realm: realm.name },
          body: { data: { hw_id: deviceId } },
        });
        return body.data.credentials_secret;
      },
      async (deviceId, secret) => {
        secrets.set(deviceId, secret);
      },
      { concurrency: 4, onProgress: () => {} },
    );
    expect(summary).toMatchObject({ created: DEVICES, failed: 0 });
    // Some confirmed (paired), some of those inhibited, some seen on MQTT.
    const { store } = pairingDeps();
    for (const deviceId of ids.slice(0, 12)) {
      await requestCertificate(tether, realm.name, deviceId, secrets.get(deviceId) ?? "");
    }
    for (const deviceId of ids.slice(0, 4)) {
      const patched = await tether.request("PATCH", `/appengine/v1/${realm.name}/devices/${deviceId}`, {
        token: await realm.jwt(),
        body: { data: { credentials_inhibited: true } },
        headers: { "content-type": "application/merge-patch+json" },
      });
      expect(patched.status, patched.text).toBe(200);
    }
    const base = Date.parse("2026-12-01T00:00:00Z");
    for (const [i, deviceId] of ids.slice(0, 300).entries()) {
      const at = new Date(base + i * 1000).toISOString();
      await store.recordPresence(realm.name, deviceId, { connected: i % 3 !== 0, at, ip: undefined });
    }
    // Metadata as devices publish it (the metadata function's use-case): a model on 300 devices, three models.
    const deps = pairingDeps();
    for (const [i, deviceId] of ids.slice(0, 300).entries()) {
      const payload = Buffer.from(JSON.stringify({ model: MODELS[i % 3], mac: `m${i}` }));
      expect(await recordMetadata(deps, { topic: `${realm.name}/${deviceId}/metadata`, payload })).toBe(
        "recorded",
      );
    }
    records = (
      await Promise.all(ids.map(async (id) => (await store.getRealmAndDevice(realm.name, id)).device))
    ).filter((d): d is Device => d !== undefined);
    expect(records).toHaveLength(DEVICES);
    // Counts what the search index's queries read.
    testBed().clients.dynamo.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const input = args.input as { IndexName?: string };
        const output = out.output as { ScannedCount?: number };
        if (input.IndexName === VIEW_INDEX.name) scanned += output.ScannedCount ?? 0;
        return out;
      },
      { step: "initialize", name: counter },
    );
  }, 600_000);
  afterAll(async () => {
    testBed().clients.dynamo.middlewareStack.remove(counter);
    await tether.close();
  });

  const prefix = () => (records[0]?.deviceId ?? "A").slice(0, 1);
  /** A time between the paired devices' certificate expiries (after all of them, if they share one). */
  const expiryCut = () => {
    const expiries = [...new Set(records.flatMap((d) => d.currentNotAfter ?? []))].sort();
    const last = expiries.at(-1) ?? new Date().toISOString();
    return expiries.length > 1
      ? (expiries[Math.floor(expiries.length / 2)] ?? last)
      : new Date(Date.parse(last) + 1).toISOString();
  };
  const cases: [string, Record<string, string>, () => DeviceQuery][] = [
    ["status=pending", { status: "pending" }, () => ({ sort: "device_id", status: "pending" })],
    ["status=confirmed", { status: "confirmed" }, () => ({ sort: "device_id", status: "confirmed" })],
    ["status=inhibited", { status: "inhibited" }, () => ({ sort: "device_id", status: "inhibited" })],
    ["id_prefix", { id_prefix: "" }, () => ({ sort: "device_id", idPrefix: prefix() })],
    [
      "status and id_prefix",
      { status: "pending", id_prefix: "" },
      () => ({ sort: "device_id", status: "pending", idPrefix: prefix() }),
    ],
    ["sort=last_seen", { sort: "last_seen" }, () => ({ sort: "last_seen" })],
    [
      "connected=true",
      { sort: "last_seen", connected: "true" },
      () => ({ sort: "last_seen", connected: true }),
    ],
    [
      "connected=false with status",
      { sort: "last_seen", connected: "false", status: "pending" },
      () => ({ sort: "last_seen", connected: false, status: "pending" }),
    ],
    [
      "status=confirmed by last_seen",
      { sort: "last_seen", status: "confirmed" },
      () => ({ sort: "last_seen", status: "confirmed" }),
    ],
    ["sort=expiry", { sort: "expiry" }, () => ({ sort: "expiry" })],
    [
      "metadata",
      { metadata_key: "model", metadata_value: "B7" },
      () => ({ sort: "device_id", metadata: { key: "model", value: "B7" } }),
    ],
    [
      "metadata with status",
      { metadata_key: "model", metadata_value: "A300", status: "confirmed" },
      () => ({ sort: "device_id", status: "confirmed", metadata: { key: "model", value: "A300" } }),
    ],
    ["expiring_before", { expiring_before: "" }, () => ({ sort: "expiry", expiringBefore: expiryCut() })],
    [
      "expiring_before with status",
      { expiring_before: "", status: "confirmed" },
      () => ({ sort: "expiry", status: "confirmed", expiringBefore: expiryCut() }),
    ],
  ];

  it.each(cases)(
    "%s: the records' answer, in order, reading at most one page more than it returns",
    async (_, params, query) => {
      const wanted = query();
      const { ids, worstExcess } = await search({
        ...params,
        ...(params.id_prefix !== undefined ? { id_prefix: wanted.idPrefix ?? "" } : {}),
        ...(params.expiring_before !== undefined ? { expiring_before: wanted.expiringBefore ?? "" } : {}),
      });
      expect(ids).toEqual(expected(wanted));
      expect(ids.length).toBeGreaterThan(0);
      expect(worstExcess).toBeLessThanOrEqual(LIMIT);
    },
    120_000,
  );

  it("the overview counts what the search finds, reading an index entry per device, then none for 5 minutes", async () => {
    scanned = 0;
    const first = await tether.request("GET", `/appengine/v1/${realm.name}/overview`, {
      token: await realm.jwt(),
    });
    expect(first.status, first.text).toBe(200);
    const counting = scanned;
    const { data } = first.body;
    for (const status of ["pending", "confirmed", "inhibited"] as const) {
      for (const connected of [true, false]) {
        const { ids } = await search({ status, connected: String(connected), sort: "last_seen" });
        expect(data.devices[status][connected ? "connected" : "disconnected"], `${status} ${connected}`).toBe(
          ids.length,
        );
      }
    }
    expect(data.total_devices).toBe(DEVICES);
    expect(data.connected_devices).toBe(expected({ sort: "last_seen", connected: true }).length);
    expect(data.certificates).toEqual({ expiring_within_24h: 0, lapsed: 0 });
    // Its cost: each device's presence entry once, and the few expiry entries in range.
    expect(counting).toBeGreaterThanOrEqual(DEVICES);
    expect(counting).toBeLessThanOrEqual(DEVICES + 12);
    scanned = 0;
    const again = await tether.request("GET", `/appengine/v1/${realm.name}/overview`, {
      token: await realm.jwt(),
    });
    expect(again.body.data.counted_at).toBe(data.counted_at);
    expect(scanned).toBe(0);
    // The 12 pairings of the seeding, on this hour's chart.
    const hours: { counts: Record<string, number> }[] = again.body.data.activity.hours;
    expect(hours.reduce((sum, h) => sum + (h.counts.issued ?? 0), 0)).toBe(12);
  });

  it("refuses what no index serves, and a token of another search, with 422", async () => {
    const refused = await get("connected=true");
    expect(refused.status).toBe(422);
    expect(refused.body.errors.connected[0]).toMatch(/sorted by last_seen only \(served: /);
    expect((await get("sort=last_seen&id_prefix=A")).status).toBe(422);
    expect((await get("sort=last_seen&expiring_before=2026-12-01T00:00:00Z")).status).toBe(422);
    expect((await get("expiring_before=tomorrow")).status).toBe(422);
    const unindexed = await get("metadata_key=mac&metadata_value=m1");
    expect(unindexed.status).toBe(422);
    expect(unindexed.body.errors.metadata_key[0]).toMatch(/indexed metadata keys \(model\)/);
    expect((await get("metadata_key=model")).status).toBe(422);
    expect((await get("metadata_key=model&metadata_value=B7&sort=last_seen")).status).toBe(422);
    expect((await get("status=gone")).status).toBe(422);
    const first = await get("status=pending&limit=1");
    const token = new URLSearchParams(first.body.links.next.split("?")[1]).get("from_token") ?? "";
    expect((await get(`status=confirmed&limit=1&from_token=${token}`)).status).toBe(422);
    // Astarte's plain list is untouched: ids, paged by device id.
    const plain = await get("limit=3");
    expect(plain.body.data).toEqual(expected({ sort: "device_id" }).slice(0, 3));
  });

  it("gives views to devices registered before the device search, once, where the last run stopped", async () => {
    const legacyRealm = await tether.createRealm(`legacy${randomBytes(3).toString("hex")}`);
    const { dynamo } = testBed().clients;
    const tableName = testBed().env.tableName;
    // Device records as the release before the search wrote them: no version, no views.
    const legacy = Array.from({ length: 5 }, () => randomDeviceId()).sort();
    for (const deviceId of legacy) {
      await dynamo.send(
        new PutItemCommand({
          TableName: tableName,
          Item: marshall({
            ...deviceKey(legacyRealm.name, deviceId),
            realmKey: `REALM#${legacyRealm.name}`,
            realm: legacyRealm.name,
            deviceId,
            secretHash: "h",
            firstRegistration: "2026-01-01T00:00:00.000Z",
            credentialsInhibited: false,
            introspection: {},
          }),
        }),
      );
    }
    const pending = async () =>
      (
        await tether.request("GET", `/appengine/v1/${legacyRealm.name}/devices?status=pending`, {
          token: await legacyRealm.jwt(),
        })
      ).body.data;
    expect(await pending()).toEqual([]);
    const { store } = pairingDeps();
    expect(await store.backfillViews(legacyRealm.name, 3)).toEqual({ projected: 3, done: false });
    expect(await pending()).toEqual(legacy.slice(0, 3));
    expect(await store.backfillViews(legacyRealm.name, 3)).toEqual({ projected: 2, done: true });
    expect(await pending()).toEqual(legacy);
    expect(await store.backfillViews(legacyRealm.name, 3)).toEqual({ projected: 0, done: true });
  });

  it("gives devices paired before the expiry view their certificate's expiry, when a stage upgrades again", async () => {
    const upgraded = await tether.createRealm(`upgrade${randomBytes(3).toString("hex")}`);
    const { dynamo } = testBed().clients;
    const tableName = testBed().env.tableName;
    const deviceId = randomDeviceId();
    const notAfter = new Date(Date.now() + 3_600_000).toISOString();
    // A confirmed device as the release before the expiry view left it: versioned, its current certificate's
    // expiry only on the certificate's record; and that release's backfill marked done.
    const put = (item: Record<string, unknown>) =>
      dynamo.send(new PutItemCommand({ TableName: tableName, Item: marshall(item) }));
    await put({
      ...deviceKey(upgraded.name, deviceId),
      realmKey: `REALM#${upgraded.name}`,
      realm: upgraded.name,
      deviceId,
      secretHash: "h",
      firstRegistration: "2026-01-01T00:00:00.000Z",
      firstCredentialsRequest: "2026-01-01T00:00:00.000Z",
      credentialsInhibited: false,
      introspection: {},
      currentSerial: "0a",
      ver: 4,
    });
    await put({ pk: deviceKey(upgraded.name, deviceId).pk, sk: "CERT#0a", kind: "certificate", notAfter });
    await put({ pk: "VIEWS", sk: upgraded.name, kind: "views-backfill", done: true });
    const { store } = pairingDeps();
    const now = new Date().toISOString();
    expect((await store.countFleet(upgraded.name, now)).expiringSoon).toBe(0);
    expect(await store.backfillViews(upgraded.name, 10)).toEqual({ projected: 1, done: true });
    expect((await store.getRealmAndDevice(upgraded.name, deviceId)).device?.currentNotAfter).toBe(notAfter);
    expect((await store.countFleet(upgraded.name, now)).expiringSoon).toBe(1);
    expect(await store.backfillViews(upgraded.name, 10)).toEqual({ projected: 0, done: true });
  });

  describe("the dashboard pages and filters through it, in a real browser", () => {
    let browser: Browser;
    let page: Page;
    const rows = () =>
      page.$$eval("#devices tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-device")));
    const open = async (hash: string) => {
      await page.goto(`${tether.url}/?at=${Date.now()}${hash}`);
      await page.waitForSelector("#devices");
    };

    beforeAll(async () => {
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    }, 60_000);
    afterAll(async () => browser?.close());

    it("pages forwards and back through 2,000 devices, 50 at a time", async () => {
      const ordered = expected({ sort: "device_id" });
      await open("#/devices");
      expect(await rows()).toEqual(ordered.slice(0, 50));
      expect(await page.textContent("#devices caption")).toBe("50 devices on this page, more on the next");
      await page.click("#next-page");
      await page.waitForSelector(firstRow(ordered[50]));
      expect(await rows()).toEqual(ordered.slice(50, 100));
      expect(page.url()).toContain("from=");
      await page.click("#previous-page");
      await page.waitForSelector(firstRow(ordered[0]));
      expect(await rows()).toEqual(ordered.slice(0, 50));
    }, 60_000);

    it("opens on the overview, whose numbers are the API's, and links each count to its search", async () => {
      const api = (
        await tether.request("GET", `/appengine/v1/${realm.name}/overview`, { token: await realm.jwt() })
      ).body.data;
      await page.goto(`${tether.url}/?at=${Date.now()}#/`);
      await page.waitForSelector("#fleet-counts");
      const shown = async (id: string) => Number(await page.getAttribute(`#${id}`, "data-count"));
      const d = api.devices;
      expect(await shown("count-total")).toBe(api.total_devices);
      expect(await shown("count-total")).toBe(DEVICES);
      expect(await shown("count-connected")).toBe(api.connected_devices);
      expect(await shown("count-pending")).toBe(d.pending.connected + d.pending.disconnected);
      expect(await shown("count-confirmed")).toBe(
        expected({ sort: "device_id", status: "confirmed" }).length,
      );
      expect(await shown("count-inhibited")).toBe(4);
      expect(await shown("count-expiring")).toBe(api.certificates.expiring_within_24h);
      expect(await shown("count-lapsed")).toBe(api.certificates.lapsed);
      for (const status of ["pending", "confirmed", "inhibited"]) {
        for (const presence of ["connected", "disconnected"]) {
          const cell = await page.textContent(
            `#presence-table tr[data-status=${status}] td[data-presence=${presence}]`,
          );
          expect(Number(cell), `${status} ${presence}`).toBe(d[status][presence]);
        }
      }
      const issuedByApi = (api.activity.hours as { counts: Record<string, number> }[]).reduce(
        (sum, h) => sum + (h.counts.issued ?? 0) + (h.counts.renewed ?? 0),
        0,
      );
      expect(Number(await page.getAttribute("#chart-issuances", "data-total"))).toBe(issuedByApi);
      expect(await page.textContent("#counted-at")).toMatch(/counted again at most every 5 minutes/);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, "dashboard-overview.png"), fullPage: true });

      // A count opens its search.
      await page.click("#count-inhibited");
      await page.waitForURL(/#\/devices\?status=inhibited/);
      await expect.poll(async () => (await rows()).length).toBe(4);
      // The 7-day window sums the same hours.
      await page.goto(`${tether.url}/?at=${Date.now()}#/overview?window=7d`);
      await page.waitForSelector("#chart-issuances");
      expect(Number(await page.getAttribute("#chart-issuances", "data-total"))).toBe(issuedByApi);
    }, 60_000);

    it("filters by status, presence and id prefix, with the search in the URL", async () => {
      await open("#/devices");
      await page.selectOption("#filter-status", "inhibited");
      await page.click("#filters button[type=submit]");
      await page.waitForURL(/status=inhibited/);
      await expect.poll(async () => (await rows()).length).toBe(4);
      expect(await rows()).toEqual(expected({ sort: "device_id", status: "inhibited" }));

      // Presence is served in last-seen order: the dashboard picks it.
      await open("#/devices");
      await page.selectOption("#filter-connected", "true");
      await page.click("#filters button[type=submit]");
      await page.waitForURL(/connected=true.*sort=last_seen|sort=last_seen.*connected=true/);
      const connected = expected({ sort: "last_seen", connected: true }).slice(0, 50);
      await expect.poll(rows).toEqual(connected);

      // A shared link opens the same view.
      const prefix = (records[0]?.deviceId ?? "A").slice(0, 2);
      await open(`#/?status=pending&id_prefix=${prefix}`);
      expect(await rows()).toEqual(
        expected({ sort: "device_id", status: "pending", idPrefix: prefix }).slice(0, 50),
      );
      expect(await page.inputValue("#filter-id-prefix")).toBe(prefix);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: resolve(ARTIFACTS, "dashboard-filtered-list.png"), fullPage: true });

      // Certificates by expiry, from a shared link, and from the filter.
      const cut = expiryCut();
      await open(`#/devices?expiring_before=${encodeURIComponent(cut)}&sort=expiry`);
      expect(await rows()).toEqual(expected({ sort: "expiry", expiringBefore: cut }));
      await open("#/devices");
      await page.selectOption("#filter-expiring", "168");
      await page.click("#filters button[type=submit]");
      await page.waitForURL(/expiring_before=.*sort=expiry/);
      const week = new URLSearchParams(page.url().split("?").at(-1)).get("expiring_before") ?? "";
      expect(Date.parse(week) - Date.now()).toBeGreaterThan(167 * 3_600_000);
      await expect.poll(rows).toEqual(expected({ sort: "expiry", expiringBefore: week }));

      // By indexed metadata, from the filter.
      await open("#/devices");
      await page.fill("#filter-metadata", "model=C9");
      await page.click("#filters button[type=submit]");
      await page.waitForURL(/metadata_key=model&metadata_value=C9/);
      const c9 = expected({ sort: "device_id", metadata: { key: "model", value: "C9" } }).slice(0, 50);
      // The rows themselves, not the first one: the unfiltered list may start with the same device.
      await expect.poll(rows).toEqual(c9);

      // A combination no index serves gets the API's own words.
      await page.goto(`${tether.url}/?at=${Date.now()}#/?connected=true&id_prefix=A`);
      await page.waitForSelector("#error:not([hidden])");
      expect(await page.textContent("#error")).toMatch(/served/);
    }, 60_000);
  });
});
