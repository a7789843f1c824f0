import { describe, expect, it } from "vitest";
import { DeviceNotFoundError, UnknownRealmError, WrongSecretError } from "../../../functions/core/errors.ts";
import type { RealmStore } from "../../../functions/core/ports/device-store.ts";
import {
  admitIssuance,
  authenticateDevice,
  loadRealmAndDevice,
  requireRealm,
} from "../../../functions/core/use-cases/authenticate.ts";
import { memoryFleet } from "../../support/memory-fleet.ts";

describe("device authentication and realm lookups on the in-memory adapters", () => {
  it("answers an unknown or ill-formed realm 403, an unknown or ill-formed device 404, a wrong secret 403", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    await expect(requireRealm(fleet.deps, fleet.realm)).resolves.toMatchObject({ name: fleet.realm });
    await expect(requireRealm(fleet.deps, "Not A Realm!")).rejects.toBeInstanceOf(UnknownRealmError);
    await expect(requireRealm(fleet.deps, "elsewhere")).rejects.toBeInstanceOf(UnknownRealmError);
    const as = (realmName: string, deviceIdText: string, presented = secret) =>
      authenticateDevice(fleet.deps, { realmName, deviceIdText, secret: presented });
    await expect(as("Not A Realm!", deviceId)).rejects.toBeInstanceOf(UnknownRealmError);
    await expect(as("elsewhere", deviceId)).rejects.toBeInstanceOf(UnknownRealmError);
    await expect(as(fleet.realm, "not-an-id")).rejects.toBeInstanceOf(DeviceNotFoundError);
    await expect(as(fleet.realm, "AJInS0w3VpWpuOqkXhgZdA")).rejects.toBeInstanceOf(DeviceNotFoundError);
    await expect(as(fleet.realm, deviceId, "wrong")).rejects.toBeInstanceOf(WrongSecretError);
    await expect(as(fleet.realm, deviceId)).resolves.toMatchObject({ device: { deviceId } });
  });

  it("reads only the realm for an ill-formed device id or none, and nothing for an ill-formed realm", async () => {
    const fleet = await memoryFleet();
    expect(await loadRealmAndDevice(fleet.deps, "Not A Realm!", undefined)).toEqual({});
    expect((await loadRealmAndDevice(fleet.deps, fleet.realm, "not-an-id")).realm?.name).toBe(fleet.realm);
    expect((await loadRealmAndDevice(fleet.deps, fleet.realm, undefined)).device).toBeUndefined();
  });

  it("gives the issuance slot back when the realm cannot be read, so the retry is not refused as in flight", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    const store = fleet.deps.store as { getRealm: RealmStore["getRealm"] };
    const original = store.getRealm;
    store.getRealm = async () => {
      store.getRealm = original;
      throw new Error("table unavailable");
    };
    const attempt = {
      key: "k",
      now: fleet.clock.now().getTime(),
      leaseUntil: fleet.clock.now().getTime() + 30_000,
    };
    await expect(
      admitIssuance(fleet.deps, { ...fleet.credentials(deviceId, secret), deviceId }, attempt),
    ).rejects.toThrow("table unavailable");
    await expect(fleet.pair(deviceId, secret)).resolves.toBeDefined();
  });
});
