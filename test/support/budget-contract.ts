import { describe, expect, it } from "vitest";
import { cellBudget } from "../../functions/core/aws-budget.ts";
import type { BudgetCells } from "../../functions/core/ports/request-budget.ts";

/**
 * What every home of the request budget's cells must do (DynamoDB on AWS and moto, memory in the simulator):
 * admit a burst then one unit per interval, say when a refused caller has room, keep cells and lanes apart, and
 * never admit more than the bucket holds however many callers race for it.
 */
export function budgetCellsContract(name: string, cells: () => BudgetCells): void {
  describe(`request budget cells: ${name}`, () => {
    const budget = cellBudget(8, 2, 4); // per cell: a burst of 4, then one every 500 ms
    const now = Date.parse("2026-12-03T00:00:00Z");

    it("admits a burst from an idle cell, then refuses until the next interval, with that time", async () => {
      const c = cells();
      for (let i = 0; i < 4; i++)
        expect(await c.charge("issuance", 0, 1, now, budget)).toEqual({ admitted: true });
      expect(await c.charge("issuance", 0, 1, now, budget)).toEqual({ admitted: false, retryAt: now + 500 });
      expect(await c.charge("issuance", 0, 1, now + 500, budget)).toEqual({ admitted: true });
      // An idle spell refills it, but no deeper than its burst.
      const later = now + 60_000;
      for (let i = 0; i < 4; i++)
        expect((await c.charge("issuance", 0, 1, later, budget)).admitted).toBe(true);
      expect((await c.charge("issuance", 0, 1, later, budget)).admitted).toBe(false);
    });

    it("keeps cells and lanes apart, and charges several units at once", async () => {
      const c = cells();
      expect((await c.charge("sweep", 1, 4, now, budget)).admitted).toBe(true);
      expect(await c.charge("sweep", 1, 1, now, budget)).toEqual({ admitted: false, retryAt: now + 500 });
      expect((await c.charge("sweep", 2, 4, now, budget)).admitted).toBe(true);
      expect((await c.charge("issuance", 1, 4, now, budget)).admitted).toBe(true);
    });

    it("reserves turns one interval apart within the queue, then says when turns open again", async () => {
      const c = cells();
      for (let i = 0; i < 4; i++)
        expect((await c.charge("issuance", 2, 1, now, budget, 2_000)).admitted).toBe(true);
      for (const turn of [500, 1_000, 1_500, 2_000]) {
        expect(await c.charge("issuance", 2, 1, now, budget, 2_000)).toEqual({
          admitted: false,
          reserved: true,
          retryAt: now + turn,
        });
      }
      // The queue is full: refused, told when the next turn falls within it (turn 2,500 less the 2,000 queue).
      expect(await c.charge("issuance", 2, 1, now, budget, 2_000)).toEqual({
        admitted: false,
        retryAt: now + 500,
      });
      // A take that may not queue is refused as before, and the turns reserved are not handed out again.
      expect((await c.charge("issuance", 2, 1, now + 2_000, budget)).admitted).toBe(false);
    });

    it("hands out distinct turns when many callers race to queue on one cell", async () => {
      const c = cells();
      const decisions = await Promise.all(
        Array.from({ length: 20 }, () => c.charge("sweep", 3, 1, now, budget, 1_000)),
      );
      expect(decisions.filter((d) => d.admitted)).toHaveLength(4);
      const turns = decisions.flatMap((d) => (!d.admitted && d.reserved ? [d.retryAt] : []));
      expect(new Set(turns).size).toBe(turns.length);
      expect(turns.length).toBeLessThanOrEqual(2);
      for (const turn of turns) expect([now + 500, now + 1_000]).toContain(turn);
    });

    it("admits no more than the bucket holds when many callers race for one cell", async () => {
      const c = cells();
      const decisions = await Promise.all(
        Array.from({ length: 20 }, () => c.charge("issuance", 3, 1, now, budget)),
      );
      expect(decisions.filter((d) => d.admitted)).toHaveLength(4);
    });
  });
}
