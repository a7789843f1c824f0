import { decide } from "../../core/aws-budget.ts";
import type { BudgetCells, BudgetDecision, BudgetLane } from "../../core/ports/request-budget.ts";

/** The request budget's cells in memory (unit tests, the fleet simulator): the same arithmetic, atomically. */
export class MemoryBudgetCells implements BudgetCells {
  readonly #tat = new Map<string, number>();
  /** Charges made, for a test or the simulator to count writes. */
  writes = 0;

  async charge(
    lane: BudgetLane,
    shard: number,
    units: number,
    now: number,
    budget: { readonly count: number; readonly periodMs: number },
    queueMs = 0,
  ): Promise<BudgetDecision> {
    this.writes++;
    const key = `${lane}#${shard}`;
    const decision = decide(this.#tat.get(key), now, units, budget, queueMs);
    if (decision.admitted) {
      this.#tat.set(key, decision.tat);
      return { admitted: true };
    }
    if ("reserved" in decision) {
      this.#tat.set(key, decision.tat);
      return { admitted: false, reserved: true, retryAt: decision.retryAt };
    }
    return decision;
  }
}
