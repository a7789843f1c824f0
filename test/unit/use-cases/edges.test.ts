import { describe, expect, it } from "vitest";
import { ForbiddenError, IssuanceInProgressError, ValidationError } from "../../../functions/core/errors.ts";
import type { DeviceStore } from "../../../functions/core/ports/device-store.ts";
import { listDevices } from "../../../functions/core/use-cases/device-status.ts";
import { type MemoryFleet, memoryFleet } from "../../support/memory-fleet.ts";

/** Runs `before` once, just before the store's first `recordIssuance`: another request's change landing first. */
function beforeFirstRecord(fleet: MemoryFleet, before: (store: DeviceStore) => Promise<void>): void {
  const store = fleet.deps.store as { recordIssuance: DeviceStore["recordIssuance"] };
  const original = store.recordIssuance;
  let done = false;
  store.recordIssuance = async (input) => {
    if (!done) {
      done = true;
      await before(fleet.store);
    }
    return original(input);
  };
}

describe("the use-cases' edges on the in-memory adapters", () => {
  it("re-reads and records when the current certificate changed meanwhile (the sweeper expired it)", async () => {
    const fleet = await memoryFleet({ issuance_budget_per_hour: 100 });
    const { deviceId, secret } = await fleet.register();
    const first = await fleet.pair(deviceId, secret);
    beforeFirstRecord(fleet, async (store) => {
      await store.retireCertificate(first.record, "expired", fleet.clock.now().toISOString());
    });
    const second = await fleet.pair(deviceId, secret);
    expect((await fleet.store.getRealmAndDevice(fleet.realm, deviceId)).device?.currentSerial).toBe(
      second.record.serial,
    );
  });

  it("does not record a certificate for a secret rotated meanwhile, and compensates in IoT", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    beforeFirstRecord(fleet, (store) =>
      store.setSecretHash(fleet.realm, deviceId, "rotated", fleet.clock.now().toISOString()),
    );
    await expect(fleet.pair(deviceId, secret)).rejects.toBeInstanceOf(ForbiddenError);
    expect(fleet.transport.certificates.size).toBe(0);
    expect(await fleet.store.listCertificates(fleet.realm, deviceId)).toEqual([]);
  });

  it("does not record a certificate for a device inhibited meanwhile", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    beforeFirstRecord(fleet, (store) =>
      store.setCredentialsInhibited(fleet.realm, deviceId, true, fleet.clock.now().toISOString()),
    );
    await expect(fleet.pair(deviceId, secret)).rejects.toThrow(/inhibited/);
    expect(fleet.transport.certificates.size).toBe(0);
  });

  it("gives up a slot another request took past its lease", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    beforeFirstRecord(fleet, async (store) => {
      const secretHash = (await store.getRealmAndDevice(fleet.realm, deviceId)).device?.secretHash ?? "";
      const later = fleet.clock.now().getTime() + 60_000;
      await store.beginIssuance({
        realm: fleet.realm,
        deviceId,
        secretHash,
        key: "x",
        now: later,
        leaseUntil: later + 30_000,
      });
    });
    await expect(fleet.pair(deviceId, secret)).rejects.toBeInstanceOf(IssuanceInProgressError);
    expect(fleet.transport.certificates.size).toBe(0);
  });

  it("discards a device whose IoT thing could not be made, so registering again starts clean", async () => {
    const fleet = await memoryFleet();
    fleet.faults.fail("ensureThing");
    await expect(fleet.register("AJInS0w3VpWpuOqkXhgZdA")).rejects.toThrow(/ensureThing failed/);
    expect(
      (await fleet.store.getRealmAndDevice(fleet.realm, "AJInS0w3VpWpuOqkXhgZdA")).device,
    ).toBeUndefined();
    expect((await fleet.store.getRealm(fleet.realm))?.deviceCount).toBe(0);
    await expect(fleet.register("AJInS0w3VpWpuOqkXhgZdA")).resolves.toBeDefined();
  });

  it("lists devices in pages, with their certificates only when asked", async () => {
    const fleet = await memoryFleet();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await fleet.register()).deviceId);
    const realm = await fleet.realmRecord();
    const paired = await fleet.register();
    await fleet.pair(paired.deviceId, paired.secret);
    ids.push(paired.deviceId);
    ids.sort();
    const page = await listDevices(fleet.deps, realm, { limit: 2, after: undefined, withCertificates: true });
    expect(page.devices.map((d) => d.device.deviceId)).toEqual(ids.slice(0, 2));
    expect(page.next).toBe(ids[1]);
    const rest = await listDevices(fleet.deps, realm, { limit: 5, after: ids[1], withCertificates: false });
    expect(rest.devices.map((d) => d.device.deviceId)).toEqual(ids.slice(2));
    expect(rest.next).toBeUndefined();
    const all = await listDevices(fleet.deps, realm, { limit: 5, after: undefined, withCertificates: true });
    const withCertificate = all.devices.find((d) => d.device.deviceId === paired.deviceId);
    expect(withCertificate?.certificate?.state).toBe("current");
    expect(rest.devices.every((d) => d.certificate === undefined)).toBe(true);

    // With Tether's search parameters, the search serves it, page token and all; an unserved one is refused.
    const query = { sort: "device_id", status: "pending" } as const;
    const pending = ids.filter((id) => id !== paired.deviceId);
    const first = await listDevices(fleet.deps, realm, {
      limit: 2,
      after: undefined,
      withCertificates: false,
      query,
    });
    expect(first.devices.map((d) => d.device.deviceId)).toEqual(pending.slice(0, 2));
    const second = await listDevices(fleet.deps, realm, {
      limit: 2,
      after: first.next,
      withCertificates: false,
      query,
    });
    expect(second.devices.map((d) => d.device.deviceId)).toEqual(pending.slice(2));
    await expect(
      listDevices(fleet.deps, realm, {
        limit: 2,
        after: undefined,
        withCertificates: false,
        query: { sort: "device_id", connected: true },
      }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      listDevices(fleet.deps, realm, {
        limit: 2,
        after: undefined,
        withCertificates: false,
        query: { sort: "last_seen", idPrefix: "A" },
      }),
    ).rejects.toThrow(/id_prefix|served/);
  });
});
