import { createHash } from "node:crypto";
import type { BudgetCells, BudgetDecision, BudgetLane, RequestBudget } from "./ports/request-budget.ts";

/**
 * The shared request budget that keeps Tether under the account's AWS quotas (core/aws-quotas.ts gives each
 * lane's rate): a token bucket per lane, spread over cells every function instance charges before calling AWS
 * (ports/request-budget.ts). The arithmetic is here; the cells live in DynamoDB (or memory).
 */

/** The lanes' rates a budget enforces (units a second); `null` leaves a lane unlimited. */
export interface BudgetRates {
  readonly issuance: number | null;
  readonly sweep: number | null;
  readonly burstSeconds: number;
}

/**
 * What AWS's default quotas give (core/aws-quotas.ts, DEFAULT_AWS_QUOTAS with the default policy; a unit test
 * holds the two equal): the functions' budget when the stack sets none.
 */
export const DEFAULT_BUDGET_RATES: BudgetRates = { issuance: 8, sweep: 8, burstSeconds: 1 };

/** No lane limited: for the emulator-backed tests and benchmarks that measure something else. */
export const UNLIMITED_BUDGET: BudgetRates = { issuance: null, sweep: null, burstSeconds: 1 };

/**
 * How many cells (DynamoDB items) a lane's budget is spread over. Each holds `1/BUDGET_SHARDS` of the rate: an
 * admission is one conditional write to one cell, so a storm's refusals spread over this many partitions
 * (DynamoDB allows 1,000 writes a second to one), and a refused caller tries a second cell before giving up.
 */
export const BUDGET_SHARDS = 4;

/**
 * The rate a lane's queue hands out turns at, as a share of the lane's own: a little under it, so the admission
 * bucket the turns' calls pass has room for devices that come a little late (or a little early for the
 * bucket) instead of running full and refusing them in a loop.
 */
export const QUEUE_RATE_SHARE = 0.9;

/** One cell's bucket: `count` units per `periodMs` (a burst of `count`, then one every `periodMs / count`). */
export interface CellBudget {
  readonly count: number;
  readonly periodMs: number;
}

export function cellBudget(perSecond: number, burstSeconds: number, shards = BUDGET_SHARDS): CellBudget {
  const cellRate = perSecond / shards;
  const count = Math.max(1, Math.floor(cellRate * burstSeconds));
  return { count, periodMs: (count / cellRate) * 1000 };
}

/**
 * The GCRA decision for `units` at `now` against a cell whose theoretical arrival time is `tat` (the generic
 * cell rate algorithm, as core/admission.ts; here for several units at once): admitted when the bucket has room,
 * with the new `tat`; a turn reserved (charged now, the caller's from `retryAt`) when it will have room within
 * `queueMs`; otherwise refused, with the time from which a take could reserve again.
 */
export function decide(
  tat: number | undefined,
  now: number,
  units: number,
  budget: CellBudget,
  queueMs = 0,
):
  | { admitted: true; tat: number }
  | { admitted: false; reserved: true; retryAt: number; tat: number }
  | { admitted: false; retryAt: number } {
  const interval = budget.periodMs / budget.count;
  const next = Math.max(tat ?? now, now) + units * interval;
  const turn = next - budget.periodMs;
  if (turn <= now) return { admitted: true, tat: next };
  if (turn <= now + queueMs) return { admitted: false, reserved: true, retryAt: turn, tat: next };
  return { admitted: false, retryAt: turn - queueMs };
}

/**
 * A request budget over shared cells (DynamoDB on AWS, memory in the simulator): a lane's rate spread over
 * {@link BUDGET_SHARDS} cells; an admission tries a random cell, then one other; a cell known to be empty until
 * some time (this instance was refused there) is not written to again before then, so a storm of refusals
 * costs DynamoDB little. Unlimited lanes never touch the cells.
 */
export class ShardedBudget implements RequestBudget {
  readonly #closedUntil = new Map<string, number>();
  readonly #budgets: Partial<Record<BudgetLane, CellBudget>>;
  readonly #queues: Partial<Record<BudgetLane, CellBudget>>;
  readonly #random: () => number;
  readonly #shards: number;

  /**
   * `shards` other than {@link BUDGET_SHARDS} only for the fleet simulator, whose scaled-down rates would
   * otherwise leave each cell less than one unit of burst.
   */
  constructor(
    private readonly cells: BudgetCells,
    rates: BudgetRates,
    options: { readonly random?: () => number; readonly shards?: number } = {},
  ) {
    this.#random = options.random ?? Math.random;
    this.#shards = options.shards ?? BUDGET_SHARDS;
    const shards = this.#shards;
    // Each limited lane's cells, at its rate (admissions) or at the queue's share of it (turns).
    const cellsAt = (share: number): Partial<Record<BudgetLane, CellBudget>> =>
      Object.fromEntries(
        (["issuance", "sweep"] as const).flatMap((lane) => {
          const rate = rates[lane];
          return rate === null ? [] : [[lane, cellBudget(rate * share, rates.burstSeconds, shards)]];
        }),
      );
    this.#budgets = cellsAt(1);
    this.#queues = cellsAt(QUEUE_RATE_SHARE);
  }

  async take(lane: BudgetLane, units: number, now: number): Promise<BudgetDecision> {
    return this.#charge(lane, units, now, 0);
  }

  /**
   * The queue's cells are the lane's cells `shards … 2·shards − 1`, at {@link QUEUE_RATE_SHARE} of its rate. The
   * first cell tried is asked for a turn now,
   * the second (or the only one) for a turn now or later: a caller queues on one cell, not two.
   */
  async reserve(lane: BudgetLane, now: number, queueMs: number): Promise<BudgetDecision> {
    return this.#charge(lane, 1, now, queueMs);
  }

  async #charge(lane: BudgetLane, units: number, now: number, queueMs: number): Promise<BudgetDecision> {
    const budget = queueMs > 0 ? this.#queues[lane] : this.#budgets[lane];
    if (!budget) return { admitted: true };
    if (units > budget.count)
      throw new Error(`cannot take ${units} units at once from ${lane} (at most ${budget.count})`);
    const shards = this.#shards;
    const offset = queueMs > 0 ? shards : 0;
    const first = Math.floor(this.#random() * shards);
    const tried =
      shards > 1 ? [first, (first + 1 + Math.floor(this.#random() * (shards - 1))) % shards] : [first];
    let retryAt = Number.POSITIVE_INFINITY;
    for (const [index, shard] of tried.entries()) {
      const queue = index === tried.length - 1 ? queueMs : 0;
      // A cell this instance saw full (with no turn left to reserve, for the queue) is not written to before it
      // has room again.
      const key = `${lane}#${offset + shard}${queue > 0 ? "#queue" : ""}`;
      const closed = this.#closedUntil.get(key);
      if (closed !== undefined && closed > now) {
        retryAt = Math.min(retryAt, closed);
        continue;
      }
      const decision = await this.cells.charge(lane, offset + shard, units, now, budget, queue);
      if (decision.admitted || decision.reserved) return decision;
      this.#closedUntil.set(key, decision.retryAt);
      retryAt = Math.min(retryAt, decision.retryAt);
    }
    return { admitted: false, retryAt };
  }
}

/**
 * Whole seconds a caller refused by the budget is told to wait: until its cell has room, then spread over as
 * many seconds again by a factor fixed per `key` (the device), so a fleet refused together comes back spread
 * out, and a device that retries is not overtaken by the same neighbours each time. At least 1.
 */
export function budgetRetryAfterSeconds(retryAt: number, now: number, key: string): number {
  const base = Math.max(1, Math.ceil((retryAt - now) / 1000));
  const spread = createHash("sha256").update(`budget:${key}`).digest().readUInt16BE(0) / 0xffff;
  return base + Math.floor(spread * (base + 1));
}
