import { describe, expect, it } from "vitest";
import { SWEEP_SHARDS, sweepShardOf } from "../../../functions/adapters/table-schema.ts";
import { DependencyUnavailableError } from "../../../functions/core/errors.ts";
import { deleteRealm } from "../../../functions/core/use-cases/realms.ts";
import {
  boundedRun,
  measureBacklog,
  REVOCATION_RETRY_MS,
  sweep,
} from "../../../functions/core/use-cases/sweep.ts";
import { memoryFleet } from "../../support/memory-fleet.ts";

/** Device ids of `count` devices whose sweep shard is `shard` (ids are random; the shard is their hash). */
async function devicesIn(fleet: Awaited<ReturnType<typeof memoryFleet>>, shard: number, count: number) {
  const found: { deviceId: string; secret: string }[] = [];
  while (found.length < count) {
    const device = await fleet.register();
    if (sweepShardOf(device.deviceId) === shard) found.push(device);
  }
  return found;
}

describe("the sweeper at fleet size (in memory)", () => {
  it("serves every shard each run: a huge backlog in one shard does not starve another", async () => {
    const fleet = await memoryFleet({ grace_seconds: 0, issuance_budget_per_hour: 100 });
    const crowded = await devicesIn(fleet, 0, 12);
    const [lonely] = await devicesIn(fleet, 5, 1);
    for (const d of [...crowded, ...(lonely ? [lonely] : [])]) {
      await fleet.pair(d.deviceId, d.secret);
      await fleet.pair(d.deviceId, d.secret);
    }
    fleet.clock.advance(1000);
    // Room for 8 items over 8 shards: one page of one item from each, not eight from shard 0.
    const report = await sweep(fleet.deps, { ...boundedRun(SWEEP_SHARDS, 8), pageSize: 4 });
    expect(report.truncated).toBe(true);
    expect(fleet.transport.active(fleet.realm, lonely?.deviceId ?? "")).toHaveLength(1);
  });

  it("pages past items that fail, so one stuck item never hides the ones behind it", async () => {
    const fleet = await memoryFleet({ grace_seconds: 0, issuance_budget_per_hour: 100 });
    const devices = await devicesIn(fleet, 3, 6);
    for (const d of devices) {
      await fleet.pair(d.deviceId, d.secret);
      await fleet.pair(d.deviceId, d.secret);
    }
    fleet.clock.advance(1000);
    fleet.faults.fail("removeCertificate");
    fleet.faults.fail("removeCertificate");
    const report = await sweep(fleet.deps, { ...boundedRun(SWEEP_SHARDS, 100), pageSize: 2 });
    expect(report.outcomes.failed).toBe(2);
    expect(report.outcomes.superseded).toBe(4);
    expect(report.rounds).toBeGreaterThan(3);
    expect(report.truncated).toBe(false);
    // The next run finishes the two that failed.
    expect((await sweep(fleet.deps, boundedRun(SWEEP_SHARDS, 100))).outcomes.superseded).toBe(2);
  });

  it("takes a certificate out of IoT while the CA is down, and leaves its revocation for later, off the queue's head", async () => {
    const fleet = await memoryFleet({ grace_seconds: 0, issuance_budget_per_hour: 100 });
    const devices = await devicesIn(fleet, 2, 3);
    const superseded: string[] = [];
    for (const d of devices) {
      superseded.push((await fleet.pair(d.deviceId, d.secret)).record.serial);
      await fleet.pair(d.deviceId, d.secret);
    }
    fleet.clock.advance(1000);
    for (let i = 0; i < 3; i++) fleet.faults.fail("revokeCertificate", new DependencyUnavailableError(5));
    const first = await sweep(fleet.deps, boundedRun(SWEEP_SHARDS, 100));
    expect(first.outcomes).toMatchObject({ revocation_deferred: 3, failed: 0 });
    for (const [i, d] of devices.entries()) {
      // Unusable on MQTT already (the current one is left), its revocation still owed.
      expect(fleet.transport.active(fleet.realm, d.deviceId)).toHaveLength(1);
      expect(await fleet.store.getCertificate(fleet.realm, d.deviceId, superseded[i] ?? "")).toMatchObject({
        state: "superseded",
        revocationPending: true,
      });
    }
    // Not due again for an hour: the next runs see what is behind them, not them.
    fleet.clock.advance(REVOCATION_RETRY_MS - 60_000);
    expect((await measureBacklog(fleet.deps, SWEEP_SHARDS, 100)).count).toBe(0);
    fleet.clock.advance(60_000);
    const later = await sweep(fleet.deps, boundedRun(SWEEP_SHARDS, 100));
    expect(later.outcomes).toMatchObject({ superseded: 3, failed: 0 });
    for (const serial of superseded) expect(fleet.ca.revoked.get(serial)).toBe("SUPERSEDED");
  });

  it("takes its items from the budget's sweep lane and stops taking rounds when its time is up", async () => {
    const fleet = await memoryFleet({ grace_seconds: 0, issuance_budget_per_hour: 100 }, "unit", {
      issuance: null,
      sweep: 2,
      burstSeconds: 1,
    });
    for (let i = 0; i < 10; i++) {
      const d = await fleet.register();
      await fleet.pair(d.deviceId, d.secret);
      await fleet.pair(d.deviceId, d.secret);
    }
    fleet.clock.advance(1000);
    let slept = 0;
    const paced = await sweep(fleet.deps, {
      ...boundedRun(SWEEP_SHARDS, 100),
      concurrency: 1,
      // Virtual time: each wait moves the clock instead of spending time.
      sleep: async (ms) => {
        slept += ms;
        fleet.clock.advance(ms);
      },
    });
    expect(paced.outcomes.superseded).toBe(10);
    // Two a second, after a burst of at most one per cell (four): the tenth is admitted 3 s in at the earliest.
    expect(slept).toBeGreaterThanOrEqual(3000);
    expect(fleet.budgetCells.writes).toBeGreaterThanOrEqual(10);

    // A run whose time is up stops waiting on the lane: what it had no room for is left for the next run.
    const busy = await memoryFleet({ grace_seconds: 0, issuance_budget_per_hour: 100 }, "unit", {
      issuance: null,
      sweep: 0.05,
      burstSeconds: 1,
    });
    for (let i = 0; i < 10; i++) {
      const d = await busy.register();
      await busy.pair(d.deviceId, d.secret);
      await busy.pair(d.deviceId, d.secret);
    }
    busy.clock.advance(1000);
    const endAt = busy.clock.now().getTime() + 50_000;
    const cut = await sweep(busy.deps, {
      ...boundedRun(SWEEP_SHARDS, 100),
      concurrency: 1,
      hasTime: () => busy.clock.now().getTime() < endAt,
      sleep: async (ms) => {
        busy.clock.advance(ms);
      },
    });
    // A burst of one per cell, then one every 80 s per cell: the wait that starts inside the run's 50 s is
    // finished, no other; none counted as failed.
    expect(cut.outcomes.failed).toBe(0);
    expect(cut.outcomes.superseded).toBeLessThan(10);
    expect(cut.found).toBe(cut.outcomes.superseded);
    expect(busy.clock.now().getTime()).toBeLessThanOrEqual(endAt + 80_000);
    expect((await measureBacklog(busy.deps, SWEEP_SHARDS, 100)).count).toBe(10 - cut.outcomes.superseded);

    const again = await memoryFleet({ grace_seconds: 0, issuance_budget_per_hour: 100 });
    for (let i = 0; i < 10; i++) {
      const d = await again.register();
      await again.pair(d.deviceId, d.secret);
      await again.pair(d.deviceId, d.secret);
    }
    again.clock.advance(1000);
    let rounds = 0;
    const timed = await sweep(again.deps, {
      ...boundedRun(SWEEP_SHARDS, 100),
      pageSize: 1,
      hasTime: () => rounds++ < 1,
    });
    expect(timed.rounds).toBe(1);
    expect(timed.truncated).toBe(true);
  });

  it("purges a device with two live certificates even when each run has room for one", async () => {
    const fleet = await memoryFleet({ grace_seconds: 3600 });
    const d = await fleet.register();
    await fleet.pair(d.deviceId, d.secret);
    await fleet.pair(d.deviceId, d.secret);
    await deleteRealm(fleet.deps, fleet.realm);
    // A congested lane: one item's worth of room per run (the realm's item), none to wait for in the run's time.
    let room = 0;
    const deps = {
      ...fleet.deps,
      budget: {
        take: async (_lane: string, units: number, now: number) => {
          if (room < units) return { admitted: false as const, retryAt: now + 60_000 };
          room -= units;
          return { admitted: true as const };
        },
        reserve: async () => ({ admitted: true as const }),
      },
    };
    for (let i = 0; i < 4 && fleet.tables.realms.size > 0; i++) {
      room = 1;
      await sweep(deps, { ...boundedRun(SWEEP_SHARDS, 100), concurrency: 1, hasTime: () => room > 0 });
      fleet.clock.advance(60_000);
    }
    // Each run's certificate is recorded as done, so the next run goes on from the one after it.
    expect(fleet.transport.certificates.size).toBe(0);
    expect(fleet.tables.devices.size).toBe(0);
    expect(fleet.tables.realms.size).toBe(0);
    expect(fleet.ca.revoked.size).toBe(2);
  });

  it("measures the backlog left: a capped count and the oldest due item's age", async () => {
    const fleet = await memoryFleet({ grace_seconds: 0, issuance_budget_per_hour: 100 });
    for (let i = 0; i < 3; i++) {
      const d = await fleet.register();
      await fleet.pair(d.deviceId, d.secret);
      await fleet.pair(d.deviceId, d.secret);
    }
    expect(await measureBacklog(fleet.deps, SWEEP_SHARDS, 10)).toMatchObject({
      count: 3,
      oldestDueAgeSeconds: 0,
    });
    fleet.clock.advance(90_000);
    const later = await measureBacklog(fleet.deps, SWEEP_SHARDS, 1);
    expect(later.oldestDueAgeSeconds).toBeGreaterThanOrEqual(90);
    expect(later.capped).toBe(true);
    await sweep(fleet.deps, boundedRun(SWEEP_SHARDS, 100));
    expect(await measureBacklog(fleet.deps, SWEEP_SHARDS, 10)).toEqual({
      count: 0,
      capped: false,
      oldestDueAgeSeconds: 0,
    });
  });
});
