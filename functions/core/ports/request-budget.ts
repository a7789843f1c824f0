/**
 * The kinds of work admitted against the account's AWS request quotas (core/aws-budget.ts): issuing a device a
 * certificate, and the sweeper retiring one.
 */
export type BudgetLane = "issuance" | "sweep";

/** Admitted, or refused with the earliest time (epoch ms) the lane has room again. */
export type BudgetDecision =
  | { readonly admitted: true }
  | { readonly admitted: false; readonly retryAt: number };

/** The shared request budget every function instance admits AWS work against, before calling AWS. */
export interface RequestBudget {
  /** Takes `units` of the lane's budget at `now` (epoch ms). */
  take(lane: BudgetLane, units: number, now: number): Promise<BudgetDecision>;
}

/**
 * Where a budget keeps its state: cells of a token bucket (one GCRA timestamp each), charged by one atomic
 * read-modify-write (a conditional write on DynamoDB).
 */
export interface BudgetCells {
  /** Charges `units` to cell `shard` of `lane` if its bucket (`budget`) has room at `now`. */
  charge(
    lane: BudgetLane,
    shard: number,
    units: number,
    now: number,
    budget: { readonly count: number; readonly periodMs: number },
  ): Promise<BudgetDecision>;
}
