import { randomBytes } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { sweepShardOf } from "../../functions/adapters/table-schema.ts";
import {
  type DeviceQuery,
  deviceSortKey,
  indexedMetadataOf,
  matchesDeviceQuery,
} from "../../functions/core/device-query.ts";
import {
  DeviceNotFoundError,
  RealmExistsError,
  RealmNotFoundError,
  UnprocessableError,
  ValidationError,
} from "../../functions/core/errors.ts";
import type { CertificateRecord, Device, Realm } from "../../functions/core/model.ts";
import { ConcurrentIssuanceError, type DeviceStore } from "../../functions/core/ports/device-store.ts";

/**
 * The DeviceStore contract: what every adapter must do, down to its conditions, transactions and orderings.
 * Run against the DynamoDB adapter on moto (test/integration) and the in-memory one (test/unit), so the
 * in-memory store the unit tests and the simulator use can never be kinder than DynamoDB.
 */
export function storeContract(name: string, makeStore: () => DeviceStore): void {
  describe(`DeviceStore contract: ${name}`, () => {
    let store: DeviceStore;
    let r: string;
    let tick = 0;
    const T0 = "2026-01-01T00:00:00.000Z";
    const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();
    const realmOf = (over: Partial<Realm> = {}): Realm => ({
      name: r,
      jwtPublicKeyPem: "key",
      brokerUrl: undefined,
      certificateValiditySeconds: 3600,
      graceSeconds: 600,
      deviceLimit: undefined,
      issuanceBudgetPerHour: 6,
      maxLiveCertificates: 3,
      indexedMetadataKeys: [],
      deviceCount: 0,
      createdAt: T0,
      ...over,
    });
    const id = () => randomBytes(16).toString("base64url");
    /** Device ids in the order DynamoDB sorts keys (by UTF-8 bytes). */
    const compareIds = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    const certificate = (deviceId: string, serial: string, notAfter = at(60)): CertificateRecord => ({
      realm: r,
      deviceId,
      serial,
      iotCertificateId: `id-${serial}`,
      iotCertificateArn: `arn:aws:iot:us-east-1:000000000000:cert/id-${serial}`,
      notBefore: T0,
      notAfter,
      issuedAt: T0,
      state: "current",
      graceUntil: undefined,
    });
    const register = async (deviceId: string, secretHash = "h1", realm = realmOf()) =>
      store.registerDevice({ realm, deviceId, secretHash, introspection: undefined, now: T0 });
    /** Takes the slot and records an issuance of `serial`, as the issuance use-case does. */
    const issue = async (
      deviceId: string,
      serial: string,
      options: {
        expected?: string;
        superseded?: string;
        cuts?: string[];
        secretHash?: string;
        now?: string;
        notAfter?: string | undefined;
      } = {},
    ) => {
      const secretHash = options.secretHash ?? "h1";
      // Each issuance later than the last, so a slot a failed one left behind has expired.
      tick += 10;
      const begun = await store.beginIssuance({
        realm: r,
        deviceId,
        secretHash,
        key: serial,
        now: tick,
        leaseUntil: tick + 1,
      });
      await store.recordIssuance({
        certificate: certificate(deviceId, serial, options.notAfter),
        expectedCurrentSerial: options.expected,
        superseded: options.superseded ? { serial: options.superseded, graceUntil: at(10) } : undefined,
        requestIp: "192.0.2.1",
        now: options.now ?? T0,
        intentRequestId: `req-${serial}`,
        secretHash,
        lease: begun.acquired ? tick + 1 : -1,
        charge: { tat: 10, admitAt: 0, key: serial },
        graceCuts: options.cuts ?? [],
      });
    };
    const dueOf = async (deviceId: string, now: string) =>
      (await store.findDue(sweepShardOf(deviceId), now, 100)).items.filter(
        (d) =>
          (d.kind === "certificate" && d.record.deviceId === deviceId) ||
          (d.kind === "intent" && d.intent.deviceId === deviceId),
      );

    beforeEach(async () => {
      store = makeStore();
      r = `c${randomBytes(5).toString("hex")}`;
      await store.createRealm(realmOf());
    });

    it("creates realms once; a deleted realm is unknown but keeps its name until it is purged", async () => {
      await expect(store.createRealm(realmOf())).rejects.toBeInstanceOf(RealmExistsError);
      expect((await store.getRealm(r))?.name).toBe(r);
      const updated = await store.updateRealm(realmOf({ graceSeconds: 5, brokerUrl: "mqtts://b:8883/" }));
      expect(updated).toMatchObject({ graceSeconds: 5, brokerUrl: "mqtts://b:8883/", deviceCount: 0 });
      await store.deleteRealm(r, at(1));
      expect(await store.getRealm(r)).toBeUndefined();
      expect((await store.listRealms()).map((x) => x.name)).not.toContain(r);
      await expect(store.updateRealm(realmOf())).rejects.toBeInstanceOf(RealmNotFoundError);
      await expect(store.deleteRealm(r, at(1))).rejects.toBeInstanceOf(RealmNotFoundError);
      await expect(store.createRealm(realmOf())).rejects.toBeInstanceOf(RealmExistsError);
      const due = (await store.findDue(sweepShardOf(r), at(1), 1000)).items;
      expect(due).toContainEqual({ kind: "realm", realm: r });
      await store.removeDeletedRealm(r);
      await store.createRealm(realmOf());
      expect((await store.getRealm(r))?.name).toBe(r);
    });

    it("registers a device once, renews a pending one, refuses a confirmed one, and counts the limit", async () => {
      const d = id();
      expect(await register(d)).toBe("created");
      expect((await store.getRealm(r))?.deviceCount).toBe(1);
      await store.setCredentialsInhibited(r, d, true, at(1));
      expect(await register(d, "h2")).toBe("renewed");
      const { device } = await store.getRealmAndDevice(r, d);
      expect(device).toMatchObject({ secretHash: "h2", credentialsInhibited: false });
      expect((await store.getRealm(r))?.deviceCount).toBe(1);
      await issue(d, "01", { secretHash: "h2" });
      await expect(register(d, "h3")).rejects.toBeInstanceOf(UnprocessableError);

      const limited = realmOf({ deviceLimit: 1 });
      await store.updateRealm(limited);
      await expect(register(id(), "h", limited)).rejects.toBeInstanceOf(UnprocessableError);
      await expect(
        store.registerDevice({
          realm: realmOf({ name: `${r}x` }),
          deviceId: id(),
          secretHash: "h",
          introspection: undefined,
          now: T0,
        }),
      ).rejects.toBeInstanceOf(RealmNotFoundError);
    });

    it("discards a new device only while it has the same secret and never paired", async () => {
      const d = id();
      await register(d, "h1");
      await store.discardNewDevice(r, d, "other");
      expect((await store.getRealmAndDevice(r, d)).device).toBeDefined();
      await store.discardNewDevice(r, d, "h1");
      expect((await store.getRealmAndDevice(r, d)).device).toBeUndefined();
      expect((await store.getRealm(r))?.deviceCount).toBe(0);
    });

    it("changes only existing devices, and writes each change to the timeline, newest first", async () => {
      const ghost = id();
      await expect(store.unregisterDevice(r, ghost, T0)).rejects.toBeInstanceOf(DeviceNotFoundError);
      await expect(store.setSecretHash(r, ghost, "h", T0)).rejects.toBeInstanceOf(DeviceNotFoundError);
      await expect(store.setCredentialsInhibited(r, ghost, true, T0)).rejects.toBeInstanceOf(
        DeviceNotFoundError,
      );
      const d = id();
      await register(d);
      // Events written by different operations at the same instant have no defined order (on DynamoDB their
      // sort keys end in random bytes), so each step here happens later than the one before.
      await issue(d, "01", { now: at(0.5) });
      await store.setSecretHash(r, d, "h2", at(1));
      await store.unregisterDevice(r, d, at(2));
      const { device } = await store.getRealmAndDevice(r, d);
      expect(device).toMatchObject({ secretHash: undefined, currentSerial: undefined });
      expect(device?.firstCredentialsRequest).toBeUndefined();
      const events = await store.listEvents(r, d, 10);
      expect(events.map((e) => e.type)).toEqual(["unregistered", "secret_rotated", "issued", "registered"]);
      expect(await store.listEvents(r, d, 2)).toHaveLength(2);
    });

    it("admits one issuance at a time, for the device's own secret, within its budget", async () => {
      const d = id();
      const begin = (over: { secretHash?: string; now?: number; key?: string } = {}) =>
        store.beginIssuance({
          realm: r,
          deviceId: d,
          secretHash: over.secretHash ?? "h1",
          key: over.key ?? "k1",
          now: over.now ?? 100,
          leaseUntil: (over.now ?? 100) + 30,
        });
      expect(
        await store.beginIssuance({
          realm: r,
          deviceId: d,
          secretHash: "h1",
          key: "k",
          now: 0,
          leaseUntil: 1,
        }),
      ).toEqual({ acquired: false, device: undefined });
      await register(d);
      expect((await begin({ secretHash: "wrong" })).acquired).toBe(false);
      const first = await begin();
      expect(first.acquired).toBe(true);
      expect(first.device?.issuance?.lease).toBeUndefined();
      expect((await begin({ now: 110 })).acquired).toBe(false);
      expect((await begin({ now: 130 })).acquired).toBe(true);
      await store.endIssuance({ realm: r, deviceId: d, lease: 130, charge: undefined });
      expect((await store.getRealmAndDevice(r, d)).device?.issuance?.lease).toBe(160);
      await store.endIssuance({
        realm: r,
        deviceId: d,
        lease: 160,
        charge: { tat: 500, admitAt: 400, key: "k1" },
      });
      const after = (await store.getRealmAndDevice(r, d)).device?.issuance;
      expect(after).toEqual({ lease: undefined, tat: 500, admitAt: 400, lastKey: "k1" });
      expect((await begin({ now: 200, key: "k2" })).acquired).toBe(false);
      expect((await begin({ now: 200, key: "k1" })).acquired).toBe(true);
      // A turn kept with the slot's release goes to the next request that takes the slot (and off the device).
      await store.endIssuance({
        realm: r,
        deviceId: d,
        lease: 230,
        charge: undefined,
        turn: { at: 900, until: 1500 },
      });
      expect((await store.getRealmAndDevice(r, d)).device?.issuance).toMatchObject({
        turnAt: 900,
        turnUntil: 1500,
      });
      const taking = await begin({ now: 300, key: "k1" });
      expect(taking.acquired).toBe(true);
      expect(taking.device?.issuance).toMatchObject({ turnAt: 900, turnUntil: 1500 });
      expect((await store.getRealmAndDevice(r, d)).device?.issuance?.turnAt).toBeUndefined();
      await store.setCredentialsInhibited(r, d, true, T0);
      expect((await begin({ now: 1000 })).acquired).toBe(false);
    });

    it("records an issuance atomically: all of it, or nothing when the device moved on", async () => {
      const d = id();
      await register(d);
      await store.putIntent({ realm: r, deviceId: d, requestId: "req-01", createdAt: T0 }, at(10));
      await issue(d, "01");
      const { device } = await store.getRealmAndDevice(r, d);
      expect(device).toMatchObject({
        currentSerial: "01",
        firstCredentialsRequest: T0,
        lastCredentialsRequestIp: "192.0.2.1",
      });
      expect(device?.issuance).toEqual({ lease: undefined, tat: 10, admitAt: 0, lastKey: "01" });
      expect((await store.listHoldings(r, d)).intents).toEqual([]);

      // Expecting no current certificate while there is one: refused, and nothing of it written.
      await expect(issue(d, "02")).rejects.toBeInstanceOf(ConcurrentIssuanceError);
      expect(await store.getCertificate(r, d, "02")).toBeUndefined();
      expect((await store.getCertificate(r, d, "01"))?.state).toBe("current");
      await expect(
        issue(d, "02", { expected: "01", superseded: "01", secretHash: "h9" }),
      ).rejects.toBeInstanceOf(ConcurrentIssuanceError);
      expect((await store.getRealmAndDevice(r, d)).device?.currentSerial).toBe("01");

      await issue(d, "02", { expected: "01", superseded: "01" });
      expect(await store.getCertificate(r, d, "01")).toMatchObject({
        state: "superseded",
        graceUntil: at(10),
      });
      await issue(d, "03", { expected: "02", superseded: "02", cuts: ["01"] });
      expect(await store.getCertificate(r, d, "01")).toMatchObject({ state: "superseded", graceUntil: T0 });
      expect((await store.listCertificates(r, d)).map((c) => [c.serial, c.state])).toEqual([
        ["01", "superseded"],
        ["02", "superseded"],
        ["03", "current"],
      ]);
      // A cut of a certificate that is no longer superseded fails the whole transaction.
      await expect(issue(d, "04", { expected: "03", superseded: "03", cuts: ["09"] })).rejects.toBeInstanceOf(
        ConcurrentIssuanceError,
      );
      expect((await store.getCertificate(r, d, "03"))?.state).toBe("current");
    });

    it("rolls an issuance back, unless a newer one moved the device on", async () => {
      const d = id();
      await register(d);
      await issue(d, "01");
      await issue(d, "02", { expected: "01", superseded: "01" });
      const intent = { realm: r, deviceId: d, requestId: "req-02", createdAt: T0 };
      await store.rollbackIssuance({
        certificate: certificate(d, "02"),
        restoredCurrentSerial: "01",
        unconfirm: false,
        intent,
        intentDeadline: at(5),
      });
      expect(await store.getCertificate(r, d, "02")).toBeUndefined();
      expect(await store.getCertificate(r, d, "01")).toMatchObject({
        state: "current",
        graceUntil: undefined,
      });
      expect((await store.getRealmAndDevice(r, d)).device?.currentSerial).toBe("01");
      expect((await store.listHoldings(r, d)).intents).toEqual([{ ...intent, certificateRef: undefined }]);
      expect((await dueOf(d, at(5))).map((x) => x.kind)).toEqual(["intent"]);
      // Rolling back a certificate that is not current changes nothing.
      await store.rollbackIssuance({
        certificate: certificate(d, "02"),
        restoredCurrentSerial: "01",
        unconfirm: true,
        intent,
        intentDeadline: at(5),
      });
      expect((await store.getRealmAndDevice(r, d)).device?.firstCredentialsRequest).toBe(T0);
    });

    it("keeps intents: put, add the CA's reference, delete; a deleted intent is not brought back", async () => {
      const d = id();
      const intent = { realm: r, deviceId: d, requestId: "q1", createdAt: T0 };
      await store.putIntent(intent, at(10));
      await store.setIntentCertificate(intent, "arn:ca/cert/1");
      expect((await store.listHoldings(r, d)).intents).toEqual([
        { ...intent, certificateRef: "arn:ca/cert/1" },
      ]);
      await store.deleteIntent(intent);
      await store.setIntentCertificate(intent, "arn:ca/cert/2");
      expect((await store.listHoldings(r, d)).intents).toEqual([]);
    });

    it("puts certificates on the sweep index by deadline, and retires them only from the state read", async () => {
      const d = id();
      await register(d);
      await issue(d, "01");
      expect(await dueOf(d, at(59))).toEqual([]);
      const [due] = await dueOf(d, at(60));
      expect(due).toMatchObject({ kind: "certificate", record: { serial: "01", state: "current" } });
      await issue(d, "02", { expected: "01", superseded: "01" });
      const stale = due?.kind === "certificate" ? due.record : certificate(d, "01");
      expect(await store.retireCertificate(stale, "expired", at(60))).toBe(false);
      expect((await dueOf(d, at(10))).map((x) => (x.kind === "certificate" ? x.record.serial : ""))).toEqual([
        "01",
      ]);
      // Its revocation deferred: marked, and due again only at the new deadline (from the state read only).
      const pending = (await store.getCertificate(r, d, "01")) as CertificateRecord;
      expect(await store.deferRevocation({ ...pending, state: "current" }, at(30))).toBe(false);
      expect(await store.deferRevocation(pending, at(30))).toBe(true);
      expect(await dueOf(d, at(29))).toEqual([]);
      const [again] = await dueOf(d, at(30));
      expect(again).toMatchObject({ kind: "certificate", record: { serial: "01", revocationPending: true } });
      const superseded = (await store.getCertificate(r, d, "01")) as CertificateRecord;
      expect(superseded.revocationPending).toBe(true);
      expect(await store.retireCertificate(superseded, "superseded", at(10))).toBe(true);
      expect(await store.deferRevocation(superseded, at(40))).toBe(false);
      expect(await store.getCertificate(r, d, "01")).toMatchObject({
        state: "retired",
        retiredReason: "superseded",
      });
      expect(await dueOf(d, at(10))).toEqual([]);
      const current = (await store.getCertificate(r, d, "02")) as CertificateRecord;
      expect(await store.retireCertificate(current, "expired", at(60))).toBe(true);
      expect((await store.getRealmAndDevice(r, d)).device?.currentSerial).toBeUndefined();
      expect((await store.listEvents(r, d, 1))[0]).toMatchObject({ type: "expired", serial: "02" });
    });

    it("marks certificates revoked, due now, and takes away the current one", async () => {
      const d = id();
      await register(d);
      await issue(d, "01");
      await issue(d, "02", { expected: "01", superseded: "01" });
      await store.markRevoked(r, d, ["01", "02", "07"], at(1));
      expect((await store.listCertificates(r, d)).map((c) => c.state)).toEqual(["revoked", "revoked"]);
      expect((await store.getRealmAndDevice(r, d)).device?.currentSerial).toBeUndefined();
      expect(await dueOf(d, at(1))).toHaveLength(2);
      await store.markRevoked(r, d, ["01"], at(2));
      expect((await store.listEvents(r, d, 10)).filter((e) => e.type === "revoked")).toHaveLength(2);
    });

    it("orders due items by deadline and honours the limit", async () => {
      const d = id();
      await register(d);
      for (const [i, minutes] of [30, 10, 20].entries()) {
        await store.putIntent({ realm: r, deviceId: d, requestId: `q${i}`, createdAt: T0 }, at(minutes));
      }
      const due = await dueOf(d, at(30));
      expect(due.map((x) => (x.kind === "intent" ? x.intent.requestId : ""))).toEqual(["q1", "q2", "q0"]);
      const other = (sweepShardOf(d) + 1) % 8;
      const elsewhere = (await store.findDue(other, at(30), 100)).items;
      expect(elsewhere.some((x) => x.kind === "intent" && x.intent.deviceId === d)).toBe(false);
    });

    it("pages through a shard's due items with a cursor: each once, in order, past items left in place", async () => {
      const d = id();
      await register(d);
      const shard = sweepShardOf(d);
      for (let i = 0; i < 5; i++) {
        await store.putIntent({ realm: r, deviceId: d, requestId: `p${i}`, createdAt: T0 }, at(10 + i));
      }
      // Nothing is removed between pages (as when every item fails): the cursor still moves on.
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.findDue(shard, at(30), 2, cursor);
        expect(page.items.length).toBeLessThanOrEqual(2);
        if (page.cursor) expect(page.items).toHaveLength(2);
        for (const x of page.items)
          if (x.kind === "intent" && x.intent.deviceId === d) seen.push(x.intent.requestId);
        cursor = page.cursor;
        pages++;
      } while (cursor && pages < 1000);
      expect(seen).toEqual(["p0", "p1", "p2", "p3", "p4"]);
      const first = await store.findDue(shard, at(30), 1000);
      expect(first.cursor).toBeUndefined();
    });

    it("measures a shard's backlog: a count that stops at the cap, and the oldest deadline", async () => {
      const d = id();
      await register(d);
      const shard = sweepShardOf(d);
      for (let i = 0; i < 4; i++) {
        await store.putIntent({ realm: r, deviceId: d, requestId: `b${i}`, createdAt: T0 }, at(20 + i));
      }
      const capped = await store.dueBacklog(shard, at(30), 3);
      expect(capped.count).toBe(3);
      expect(capped.oldest !== undefined && capped.oldest <= at(20)).toBe(true);
      const all = await store.dueBacklog(shard, at(30), 100_000);
      expect(all.count).toBeGreaterThanOrEqual(4);
      const none = await store.dueBacklog(shard, "2000-01-01T00:00:00.000Z", 10);
      expect(none).toEqual({ count: 0, oldest: undefined });
    });

    it("records presence in event order, and metadata, for known devices only", async () => {
      const d = id();
      expect(await store.recordPresence(r, d, { connected: true, at: at(1), ip: "192.0.2.9" })).toBe(false);
      expect(await store.setMetadata(r, d, { model: "A" })).toBe(false);
      await register(d);
      expect(await store.recordPresence(r, d, { connected: true, at: at(2), ip: "192.0.2.9" })).toBe(true);
      expect(await store.recordPresence(r, d, { connected: false, at: at(1), ip: undefined })).toBe(false);
      expect(await store.setMetadata(r, d, { model: "A", slot: 3 })).toBe(true);
      const { device } = await store.getRealmAndDevice(r, d);
      expect(device).toMatchObject({
        connected: true,
        lastConnection: at(2),
        lastSeenIp: "192.0.2.9",
        metadata: { model: "A", slot: 3 },
      });
      expect(await store.recordPresence(r, d, { connected: false, at: at(3), ip: undefined })).toBe(true);
      expect((await store.getRealmAndDevice(r, d)).device).toMatchObject({
        connected: false,
        lastDisconnection: at(3),
      });
    });

    it("pages a realm's devices in id order; a full page always carries a cursor", async () => {
      const ids = [id(), id(), id(), id()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const d of ids) await register(d);
      const first = await store.listDevices(r, 2, undefined);
      expect(first.devices.map((x) => x.deviceId)).toEqual(ids.slice(0, 2));
      expect(first.next).toBe(ids[1]);
      const second = await store.listDevices(r, 2, first.next);
      expect(second.devices.map((x) => x.deviceId)).toEqual(ids.slice(2));
      const rest = await store.listDevices(r, 2, second.next);
      expect(rest).toEqual({ devices: [], next: undefined });
      expect((await store.listDevices(r, 10, undefined)).next).toBeUndefined();
    });

    it("searches a realm's devices by status, presence and id prefix, in either order, page by page", async () => {
      const [p1, p2, c1, c2, c3, i1] = [id(), id(), id(), id(), id(), id()];
      for (const d of [p1, p2, c1, c2, c3, i1]) await register(d);
      // Expiries out of id order: c3 first, then i1, c1, c2.
      const expiries = new Map([
        [c3, at(30)],
        [i1, at(40)],
        [c1, at(50)],
        [c2, at(60)],
      ]);
      for (const d of [c1, c2, c3, i1]) await issue(d, `s-${d}`, { notAfter: expiries.get(d) });
      await store.setCredentialsInhibited(r, i1, true, at(1));
      await store.recordPresence(r, c1, { connected: true, at: at(5), ip: undefined });
      await store.recordPresence(r, c2, { connected: true, at: at(3), ip: undefined });
      await store.recordPresence(r, c2, { connected: false, at: at(4), ip: undefined });
      await store.recordPresence(r, p1, { connected: true, at: at(6), ip: undefined });
      /** Every page of a search, limit 2: the ids in the order the store gave them. */
      const all = async (query: DeviceQuery) => {
        const ids: string[] = [];
        let token: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.searchDevices(r, query, 2, token);
          expect(page.devices.length).toBeLessThanOrEqual(2);
          ids.push(...page.devices.map((d) => d.deviceId));
          token = page.next;
          if (!token) return ids;
        }
        throw new Error("the search never ended");
      };
      /** What the search must give: the records that match, in the query's order. */
      const expected = async (query: DeviceQuery) => {
        const records = await Promise.all(
          [p1, p2, c1, c2, c3, i1].map(async (d) => (await store.getRealmAndDevice(r, d)).device),
        );
        const byId = query.sort !== "last_seen";
        return records
          .filter((d) => d !== undefined && matchesDeviceQuery(d, query))
          .map((d) => ({ id: (d as Device).deviceId, key: deviceSortKey(d as Device, query.sort) }))
          .sort((a, b) => (byId ? 1 : -1) * Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)))
          .map((x) => x.id);
      };
      const queries: DeviceQuery[] = [
        { sort: "device_id" },
        { sort: "device_id", status: "pending" },
        { sort: "device_id", status: "confirmed" },
        { sort: "device_id", idPrefix: (c1 as string).slice(0, 1) },
        { sort: "device_id", status: "confirmed", idPrefix: (c2 as string).slice(0, 2) },
        { sort: "last_seen" },
        { sort: "last_seen", connected: true },
        { sort: "last_seen", status: "confirmed", connected: false },
        { sort: "last_seen", status: "inhibited" },
        { sort: "expiry" },
        { sort: "expiry", status: "confirmed" },
        { sort: "expiry", expiringBefore: at(50) },
        { sort: "expiry", status: "inhibited", expiringBefore: at(41) },
      ];
      for (const query of queries)
        expect(await all(query), JSON.stringify(query)).toEqual(await expected(query));
      // Pinned, not only computed: the statuses and the last-seen order as the steps above set them.
      expect(new Set(await all({ sort: "device_id", status: "confirmed" }))).toEqual(new Set([c1, c2, c3]));
      expect(await all({ sort: "last_seen", connected: true })).toEqual([p1, c1]);
      expect((await all({ sort: "last_seen" })).slice(0, 3)).toEqual([p1, c1, c2]);
      expect(await all({ sort: "expiry" })).toEqual([c3, i1, c1, c2]);
      expect(await all({ sort: "expiry", expiringBefore: at(50) })).toEqual([c3, i1]);

      // Changes move devices between searches.
      await store.setCredentialsInhibited(r, i1, false, at(7));
      await store.unregisterDevice(r, c3, at(7));
      await store.recordPresence(r, c1, { connected: false, at: at(8), ip: undefined });
      expect(new Set(await all({ sort: "device_id", status: "confirmed" }))).toEqual(new Set([c1, c2, i1]));
      expect(new Set(await all({ sort: "device_id", status: "pending" }))).toEqual(new Set([p1, p2, c3]));
      expect(await all({ sort: "last_seen", connected: true })).toEqual([p1]);
      expect(await all({ sort: "device_id", status: "inhibited" })).toEqual([]);
      // Unregistered, c3 has no certificate left to expire; a renewal moves c1 to its new expiry.
      await issue(c1, "s-renewed", { expected: `s-${c1}`, superseded: `s-${c1}`, notAfter: at(90) });
      expect(await all({ sort: "expiry" })).toEqual([i1, c2, c1]);
      const fresh = id();
      await register(fresh, "h9");
      await store.discardNewDevice(r, fresh, "h9");
      expect(await all({ sort: "device_id", status: "pending" })).not.toContain(fresh);

      // A token belongs to its search.
      const first = await store.searchDevices(r, { sort: "device_id" }, 1, undefined);
      await expect(
        store.searchDevices(r, { sort: "device_id", status: "pending" }, 1, first.next),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(store.searchDevices(r, { sort: "device_id" }, 1, "garbage")).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    it("searches by the realm's indexed metadata, with status, and follows a change of the indexed keys", async () => {
      const [a1, a2, b1, none] = [id(), id(), id(), id()];
      for (const d of [a1, a2, b1, none]) await register(d);
      await store.updateRealm(realmOf({ indexedMetadataKeys: ["model"] }));
      const report = (d: string, metadata: Record<string, string | number>, keys: string[]) =>
        store.setMetadata(r, d, metadata, indexedMetadataOf(metadata, keys));
      await report(a1, { model: "A300", mac: "m1" }, ["model"]);
      await report(a2, { model: "A300", mac: "m2" }, ["model"]);
      await report(b1, { model: "B7", mac: "m3" }, ["model"]);
      await store.setMetadata(r, none, { mac: "m4" });
      await issue(a2, "01");
      const all = async (query: DeviceQuery) => {
        const ids: string[] = [];
        let token: string | undefined;
        do {
          const page = await store.searchDevices(r, query, 1, token);
          ids.push(...page.devices.map((d) => d.deviceId));
          token = page.next;
        } while (token);
        return ids;
      };
      const byModel = (value: string, status?: "pending" | "confirmed") =>
        all({ sort: "device_id", metadata: { key: "model", value }, ...(status ? { status } : {}) });
      expect(await byModel("A300")).toEqual([a1, a2].sort(compareIds));
      expect(await byModel("A300", "confirmed")).toEqual([a2]);
      expect(await byModel("A300", "pending")).toEqual([a1]);
      expect(await byModel("B7")).toEqual([b1]);
      expect(await byModel("Z")).toEqual([]);

      // A device that changes its model moves; the realm indexing mac instead re-indexes every device.
      await report(a1, { model: "B7", mac: "m1" }, ["model"]);
      expect(await byModel("B7")).toEqual([a1, b1].sort(compareIds));
      await store.updateRealm(realmOf({ indexedMetadataKeys: ["mac"] }));
      for (let runs = 0; !(await store.backfillViews(r, 2)).done; runs++) expect(runs).toBeLessThan(10);
      expect(await byModel("B7")).toEqual([]);
      expect(await all({ sort: "device_id", metadata: { key: "mac", value: "m4" } })).toEqual([none]);
      expect((await store.getRealmAndDevice(r, none)).device?.indexedMetadata).toEqual({ mac: "m4" });
    });

    it("counts the fleet by status and presence, and confirmed devices' certificates by expiry", async () => {
      const none = { connected: 0, disconnected: 0 };
      const [pending, soon, lapsed, inhibited, revoked] = [id(), id(), id(), id(), id()];
      for (const d of [pending, soon, lapsed, inhibited, revoked]) await register(d);
      await issue(soon, "01", { notAfter: at(60) });
      await issue(lapsed, "02", { notAfter: at(-60) });
      await issue(inhibited, "03", { notAfter: at(60) });
      await issue(revoked, "04", { notAfter: at(60) });
      await store.setCredentialsInhibited(r, inhibited, true, at(1));
      await store.markRevoked(r, revoked, ["04"], at(1));
      await store.recordPresence(r, soon, { connected: true, at: at(1), ip: undefined });
      expect(await store.countFleet(r, at(0))).toEqual({
        at: at(0),
        devices: {
          pending: { connected: 0, disconnected: 1 },
          confirmed: { connected: 1, disconnected: 2 },
          inhibited: { connected: 0, disconnected: 1 },
        },
        expiringSoon: 1,
        lapsed: 1,
      });

      // A renewal moves the expiry out of the day; its rollback brings the one before back.
      await issue(soon, "05", { expected: "01", superseded: "01", notAfter: at(2 * 1440) });
      expect(await store.countFleet(r, at(0))).toMatchObject({ expiringSoon: 0, lapsed: 1 });
      await store.rollbackIssuance({
        certificate: certificate(soon, "05", at(2 * 1440)),
        restoredCurrentSerial: "01",
        unconfirm: false,
        intent: { realm: r, deviceId: soon, requestId: "req-05", createdAt: T0 },
        intentDeadline: at(10),
      });
      expect(await store.countFleet(r, at(0))).toMatchObject({ expiringSoon: 1, lapsed: 1 });
      // An unregistered device is pending again, without a certificate.
      await store.unregisterDevice(r, lapsed, at(2));
      const counts = await store.countFleet(r, at(0));
      expect(counts).toMatchObject({ expiringSoon: 1, lapsed: 0 });
      expect(counts.devices.pending).toEqual({ connected: 0, disconnected: 2 });

      expect(await store.getFleetCounts(r)).toBeUndefined();
      await store.saveFleetCounts(r, counts);
      expect(await store.getFleetCounts(r)).toEqual(counts);
      expect((await store.countFleet(`${r}x`, at(0))).devices.pending).toEqual(none);
    });

    it("adds to hourly activity counters and reads them back summed, by hour, within a range", async () => {
      for (let i = 0; i < 5; i++) await store.countActivity(r, "2026-01-01T10:15:00.000Z", { issued: 1 });
      await store.countActivity(r, "2026-01-01T10:59:59.999Z", { renewed: 2, refused_WRONG_SECRET: 1 });
      await store.countActivity(r, "2026-01-01T12:00:00.000Z", { swept_expired: 3 });
      await store.countActivity(r, "2026-01-01T13:00:00.000Z", { issued: 0 });
      await store.countActivity(`${r}x`, "2026-01-01T10:00:00.000Z", { issued: 9 });
      expect(await store.readActivity(r, "2026-01-01T09", "2026-01-01T13")).toEqual([
        { hour: "2026-01-01T10", counts: { issued: 5, renewed: 2, refused_WRONG_SECRET: 1 } },
        { hour: "2026-01-01T12", counts: { swept_expired: 3 } },
      ]);
      expect(await store.readActivity(r, "2026-01-01T11", "2026-01-01T12")).toEqual([
        { hour: "2026-01-01T12", counts: { swept_expired: 3 } },
      ]);

      // A purged realm's overview goes with it; another realm's stays.
      await store.saveFleetCounts(r, await store.countFleet(r, at(0)));
      await store.forgetFleetStats(r);
      expect(await store.readActivity(r, "2026-01-01T00", "2026-01-01T23")).toEqual([]);
      expect(await store.getFleetCounts(r)).toBeUndefined();
      expect(await store.readActivity(`${r}x`, "2026-01-01T00", "2026-01-01T23")).toHaveLength(1);
    });

    it("purges every item of a device", async () => {
      const d = id();
      await register(d);
      await issue(d, "01");
      await store.putIntent({ realm: r, deviceId: d, requestId: "q", createdAt: T0 }, at(10));
      await store.purgeDevice(r, d);
      expect((await store.getRealmAndDevice(r, d)).device).toBeUndefined();
      expect(await store.listHoldings(r, d)).toEqual({ certificates: [], intents: [] });
      expect(await store.listEvents(r, d, 10)).toEqual([]);
    });

    it("hands out copies: changing what it returned changes nothing stored", async () => {
      const d = id();
      await register(d);
      const { device } = await store.getRealmAndDevice(r, d);
      (device as { secretHash?: string }).secretHash = "tampered";
      expect((await store.getRealmAndDevice(r, d)).device?.secretHash).toBe("h1");
    });
  });
}
