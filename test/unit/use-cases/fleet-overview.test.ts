import { describe, expect, it } from "vitest";
import { SWEEP_SHARDS } from "../../../functions/adapters/table-schema.ts";
import { DeviceInhibitedError, UnknownRealmError } from "../../../functions/core/errors.ts";
import {
  FLEET_COUNTS_MAX_AGE_SECONDS,
  fleetOverview,
  refusalCounted,
} from "../../../functions/core/use-cases/fleet-overview.ts";
import { boundedRun, sweep } from "../../../functions/core/use-cases/sweep.ts";
import { memoryFleet } from "../../support/memory-fleet.ts";

const DAY_MS = 86_400_000;

describe("the fleet overview (in memory)", () => {
  it("counts devices by status and presence, and keeps the count for five minutes", async () => {
    const fleet = await memoryFleet();
    const pending = await fleet.register();
    const paired = await fleet.register();
    const inhibited = await fleet.register();
    await fleet.pair(paired.deviceId, paired.secret);
    await fleet.store.setCredentialsInhibited(
      fleet.realm,
      inhibited.deviceId,
      true,
      "2026-01-01T00:00:00.000Z",
    );
    await fleet.store.recordPresence(fleet.realm, paired.deviceId, {
      connected: true,
      at: fleet.clock.now().toISOString(),
      ip: undefined,
    });
    const realm = await fleet.realmRecord();

    const first = await fleetOverview(fleet.deps, realm);
    expect(first.counts.devices).toEqual({
      pending: { connected: 0, disconnected: 1 },
      confirmed: { connected: 1, disconnected: 0 },
      inhibited: { connected: 0, disconnected: 1 },
    });
    expect(first.counts.at).toBe(fleet.clock.now().toISOString());
    expect(first.countsMaxAgeSeconds).toBe(FLEET_COUNTS_MAX_AGE_SECONDS);

    // Within five minutes a view gets the saved count, however the fleet moved.
    await fleet.register();
    fleet.clock.advance(FLEET_COUNTS_MAX_AGE_SECONDS * 1000);
    expect((await fleetOverview(fleet.deps, realm)).counts).toEqual(first.counts);
    fleet.clock.advance(1000);
    const later = await fleetOverview(fleet.deps, realm);
    expect(later.counts.devices.pending.disconnected).toBe(2);
    expect(later.counts.at).toBe(fleet.clock.now().toISOString());
    expect(pending.deviceId).not.toBe(paired.deviceId);
  });

  it("counts confirmed devices whose certificate expires within a day, and those that lapsed", async () => {
    const fleet = await memoryFleet({ certificate_validity_seconds: 7 * 86_400 });
    const renewing = await fleet.register();
    const silent = await fleet.register();
    await fleet.pair(renewing.deviceId, renewing.secret);
    await fleet.pair(silent.deviceId, silent.secret);
    const realm = await fleet.realmRecord();

    fleet.clock.advance(6.5 * DAY_MS);
    await fleet.pair(renewing.deviceId, renewing.secret);
    expect((await fleetOverview(fleet.deps, realm)).counts).toMatchObject({ expiringSoon: 1, lapsed: 0 });

    fleet.clock.advance(DAY_MS);
    expect((await fleetOverview(fleet.deps, realm)).counts).toMatchObject({ expiringSoon: 0, lapsed: 1 });
  });

  it("charts issuances, renewals, refusals by cause and sweeps by the hour, over seven days", async () => {
    const fleet = await memoryFleet({ grace_seconds: 0 });
    const device = await fleet.register();
    const realm = await fleet.realmRecord();
    await fleet.pair(device.deviceId, device.secret);
    const csr = await fleet.csr(device.deviceId);
    await fleet.pair(device.deviceId, device.secret, csr);
    // The same CSR again is a replay of that issuance: not counted twice.
    await fleet.pair(device.deviceId, device.secret, csr);
    await expect(fleet.pair(device.deviceId, "not-the-secret")).rejects.toThrow();
    // An issuance undone after IoT refused the attach is taken back off the chart (its failure is a 500, uncounted).
    fleet.faults.fail("attachCertificate");
    await expect(fleet.pair(device.deviceId, device.secret)).rejects.toThrow();
    await fleet.store.setCredentialsInhibited(
      fleet.realm,
      device.deviceId,
      true,
      fleet.clock.now().toISOString(),
    );
    await expect(fleet.pair(device.deviceId, device.secret)).rejects.toBeInstanceOf(DeviceInhibitedError);
    fleet.clock.advance(1000);
    await sweep(fleet.deps, boundedRun(SWEEP_SHARDS, 100));

    const hour = fleet.clock.now().toISOString().slice(0, 13);
    const { activity } = await fleetOverview(fleet.deps, realm);
    expect(activity.to).toBe(hour);
    expect(activity.hours).toEqual([
      {
        hour,
        counts: {
          issued: 1,
          renewed: 1,
          refused_WRONG_SECRET: 1,
          refused_DEVICE_INHIBITED: 1,
          swept_superseded: 1,
        },
      },
    ]);

    // Seven days on, that hour has left the chart.
    fleet.clock.advance(7 * DAY_MS);
    const week = await fleetOverview(fleet.deps, realm);
    expect(week.activity.hours).toEqual([]);
    expect(Date.parse(`${week.activity.to}:00:00Z`) - Date.parse(`${week.activity.from}:00:00Z`)).toBe(
      (7 * 24 - 1) * 3_600_000,
    );
  });

  it("counts no refusal for a realm it cannot name, nor for what is not a domain error", () => {
    expect(refusalCounted(new Error("boom"))).toBeUndefined();
    expect(refusalCounted(new UnknownRealmError())).toBeUndefined();
    expect(refusalCounted(new DeviceInhibitedError())).toEqual({ refused_DEVICE_INHIBITED: 1 });
  });
});
