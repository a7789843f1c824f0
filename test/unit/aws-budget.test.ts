import { describe, expect, it } from "vitest";
import { MemoryBudgetCells } from "../../functions/adapters/memory/index.ts";
import {
  BUDGET_SHARDS,
  budgetRetryAfterSeconds,
  cellBudget,
  DEFAULT_BUDGET_RATES,
  decide,
  QUEUE_RATE_SHARE,
  ShardedBudget,
} from "../../functions/core/aws-budget.ts";
import {
  AWS_OPERATION_NAMES,
  DEFAULT_AWS_QUOTAS,
  DEFAULT_BUDGET_POLICY,
  defaultQuotas,
  LANE_CALLS,
  laneRates,
} from "../../functions/core/aws-quotas.ts";

describe("the AWS request budget's arithmetic", () => {
  it("gives each lane the lowest quota share over the calls it makes, from AWS's cited defaults", () => {
    const rates = laneRates(defaultQuotas(), DEFAULT_BUDGET_POLICY);
    expect(rates.issuance).toEqual({ perSecond: 8, boundBy: "iot:RegisterCertificateWithoutCA" });
    expect(rates.sweep).toEqual({ perSecond: 8, boundBy: "iot:DescribeCertificate" });
    // A raised quota moves the bound to the next-lowest call: AttachPolicy's 15 × 0.8.
    const raised = laneRates(
      { ...defaultQuotas(), "iot:RegisterCertificateWithoutCA": 50 },
      DEFAULT_BUDGET_POLICY,
    );
    expect(raised.issuance).toEqual({ perSecond: 12, boundBy: "iot:AttachPolicy" });
    for (const name of AWS_OPERATION_NAMES)
      expect(DEFAULT_AWS_QUOTAS[name].source.length).toBeGreaterThan(20);
    // The functions' default (they do not carry the quota table) is what the table gives.
    expect(DEFAULT_BUDGET_RATES).toEqual({
      issuance: rates.issuance.perSecond,
      sweep: rates.sweep.perSecond,
      burstSeconds: DEFAULT_BUDGET_POLICY.burstSeconds,
    });
  });

  it("keeps the lanes on disjoint operations, so neither can spend the other's share", () => {
    const issuance = Object.keys(LANE_CALLS.issuance);
    expect(Object.keys(LANE_CALLS.sweep).filter((name) => issuance.includes(name))).toEqual([]);
  });

  it("admits a burst, then one unit per interval, and says when it has room again", () => {
    const budget = cellBudget(8, 2, 4); // 2 a second per cell, a burst of 4
    expect(budget).toEqual({ count: 4, periodMs: 2000 });
    let tat: number | undefined;
    const now = 1_000_000;
    for (let i = 0; i < 4; i++) {
      const d = decide(tat, now, 1, budget);
      expect(d.admitted).toBe(true);
      if (d.admitted) tat = d.tat;
    }
    const refused = decide(tat, now, 1, budget);
    expect(refused).toEqual({ admitted: false, retryAt: now + 500 });
    expect(decide(tat, now + 500, 1, budget).admitted).toBe(true);
    // Several units at once need as much room.
    expect(decide(undefined, now, 4, budget).admitted).toBe(true);
    expect(decide(undefined, now, 5, budget).admitted).toBe(false);
  });

  it("holds the fleet to the lane's rate across cells, over simulated time", async () => {
    const cells = new MemoryBudgetCells();
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const budget = new ShardedBudget(cells, { issuance: 8, sweep: null, burstSeconds: 2 }, { random });
    let admitted = 0;
    // 100 callers a second for 60 s against 8 a second.
    for (let ms = 0; ms < 60_000; ms += 10) {
      if ((await budget.take("issuance", 1, ms)).admitted) admitted++;
    }
    expect(admitted).toBeLessThanOrEqual(8 * 60 + 16);
    expect(admitted).toBeGreaterThanOrEqual(8 * 60 * 0.9);
    // Refusals known to this instance are not written again before the cell has room: far fewer writes than calls.
    expect(cells.writes).toBeLessThan(6_000 / 2);
  });

  it("orders turns on the lane's queue, cells apart from the admission bucket's", async () => {
    const cells = new MemoryBudgetCells();
    // The queue runs at 90 % of the lane: at 2.5 a second and a 2 s burst, admissions get a burst of 5, turns one
    // of 4 and then one every 444 ms.
    const budget = new ShardedBudget(cells, { issuance: 2.5, sweep: null, burstSeconds: 2 }, { shards: 1 });
    expect(QUEUE_RATE_SHARE).toBe(0.9);
    const interval = 1000 / (2.5 * 0.9);
    const turns = [];
    for (let i = 0; i < 9; i++) turns.push(await budget.reserve("issuance", 0, 2_000));
    expect(turns.filter((t) => t.admitted)).toHaveLength(4);
    for (const [i, turn] of turns.slice(4, 8).entries()) {
      expect(turn).toMatchObject({ admitted: false, reserved: true });
      expect(turn.admitted ? 0 : turn.retryAt).toBeCloseTo((i + 1) * interval, 6);
    }
    expect(turns[8]).toMatchObject({ admitted: false });
    expect(turns[8]?.admitted === false && turns[8].reserved).toBeFalsy();
    // The admission bucket is untouched by the queue: its burst is all there.
    for (let i = 0; i < 5; i++) expect((await budget.take("issuance", 1, 0)).admitted).toBe(true);
    expect((await budget.take("issuance", 1, 0)).admitted).toBe(false);
  });

  it("leaves an unlimited lane alone, and refuses a take larger than a cell's burst", async () => {
    const cells = new MemoryBudgetCells();
    const budget = new ShardedBudget(cells, { issuance: 8, sweep: null, burstSeconds: 2 });
    for (let i = 0; i < 1000; i++) expect((await budget.take("sweep", 1, 0)).admitted).toBe(true);
    expect(cells.writes).toBe(0);
    await expect(budget.take("issuance", 5, 0)).rejects.toThrow(/at most 4/);
    expect(BUDGET_SHARDS).toBe(4);
  });

  it("spreads the Retry-After of a refused fleet per device, never sooner than the budget has room", () => {
    const now = 0;
    const waits = Array.from({ length: 200 }, (_, i) => budgetRetryAfterSeconds(3_000, now, `device-${i}`));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(3);
    expect(Math.max(...waits)).toBeLessThanOrEqual(7);
    expect(new Set(waits).size).toBeGreaterThanOrEqual(4);
    expect(budgetRetryAfterSeconds(3_000, now, "device-1")).toBe(waits[1]);
    expect(budgetRetryAfterSeconds(0, now, "x")).toBeGreaterThanOrEqual(1);
  });
});
