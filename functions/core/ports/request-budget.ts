/**
 * The kinds of work admitted against the account's AWS request quotas (core/aws-budget.ts): issuing a device a
 * certificate, and the sweeper retiring one.
 */
export type BudgetLane = "issuance" | "sweep";

/**
 * Admitted now; or not now, with the time (epoch ms) from which the caller may go ahead: `reserved` when the units
 * were charged for that later turn (they are the caller's then, not to be taken again), otherwise the earliest
 * time a take could succeed (or reserve a turn).
 */
export type BudgetDecision =
  | { readonly admitted: true }
  | { readonly admitted: false; readonly retryAt: number; readonly reserved?: true };

/** The shared request budget every function instance admits AWS work against, before calling AWS. */
export interface RequestBudget {
  /** Takes `units` of the lane's budget at `now` (epoch ms): admitted, or refused until `retryAt`. */
  take(lane: BudgetLane, units: number, now: number): Promise<BudgetDecision>;
  /**
   * Places a caller in the lane's queue: a second bucket at the lane's rate that orders turns (its cells apart
   * from those `take` charges). Admitted: the caller's turn is now; reserved: its turn is at `retryAt`, within
   * `queueMs`; refused: the queue is full until `retryAt`. A turn orders callers; its calls still pass `take`.
   */
  reserve(lane: BudgetLane, now: number, queueMs: number): Promise<BudgetDecision>;
}

/**
 * Where a budget keeps its state: cells of a token bucket (one GCRA timestamp each), charged by one atomic
 * read-modify-write (a conditional write on DynamoDB).
 */
export interface BudgetCells {
  /**
   * Charges `units` to cell `shard` of `lane` if its bucket (`budget`) has room at `now`, or (with `queueMs`) will
   * have within that long: then the decision is a reserved turn.
   */
  charge(
    lane: BudgetLane,
    shard: number,
    units: number,
    now: number,
    budget: { readonly count: number; readonly periodMs: number },
    queueMs?: number,
  ): Promise<BudgetDecision>;
}
