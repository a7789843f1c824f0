import { createHash } from "node:crypto";

/**
 * Admission against a rate budget: the generic cell rate algorithm (GCRA), a token bucket kept as one
 * timestamp. A budget of `count` per `periodMs` admits a burst of `count` at once and then one every
 * `periodMs / count`. The state is the theoretical arrival time (`tat`); what a store keeps for its condition
 * is `admitAt`, the earliest time the next unit is admitted, so checking needs no budget settings at all (a
 * conditional write can compare it with the time of the request). Pure arithmetic: the per-device issuance
 * budget keeps its state on the device item; the fleet-wide AWS budget can keep the same in a shared item.
 */
export interface RateBudget {
  readonly count: number;
  readonly periodMs: number;
}

export interface BudgetState {
  /** The theoretical arrival time after the last unit charged, epoch ms. */
  readonly tat: number;
  /** When the next unit is admitted, epoch ms. */
  readonly admitAt: number;
}

/** Charges one unit at `now` (ms) to a budget whose last state was `tat` (undefined: never charged). */
export function charge(tat: number | undefined, now: number, budget: RateBudget): BudgetState {
  const interval = budget.periodMs / budget.count;
  const tolerance = budget.periodMs - interval;
  const next = Math.max(tat ?? now, now) + interval;
  return { tat: next, admitAt: next - tolerance };
}

/**
 * Seconds a refused caller should wait: until `admitAt`, at least 1 s, stretched by up to a tenth with a
 * factor fixed per `key` (the device), so a fleet refused together does not retry in lockstep.
 */
export function retryAfterSeconds(admitAt: number, now: number, key: string): number {
  const spread = createHash("sha256").update(key).digest().readUInt16BE(0) / 0xffff;
  return Math.max(1, Math.ceil(((admitAt - now) / 1000) * (1 + spread / 10)));
}
