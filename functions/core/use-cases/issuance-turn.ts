/**
 * Issuance's place in the account's AWS request budget (core/aws-budget.ts), as a queue of turns: a device that
 * cannot be admitted now reserves the next free turn in the lane's queue (a second bucket at the lane's rate), is
 * told to come back then (`Retry-After`), and keeps the turn on its record. A storm of renewals (after an outage,
 * a factory batch) then costs about two requests a device, however long the queue, instead of a retry every few
 * seconds each for as long as it lasts (with `Retry-After` at the next free unit, a million-device fleet's 200,000
 * waiting devices would ask 100,000 times a second); and devices are served in the order they came, not by luck.
 */
import { budgetRetryAfterSeconds } from "../aws-budget.ts";
import type { Device } from "../model.ts";
import type { RequestBudget } from "../ports/request-budget.ts";

/**
 * How far ahead a turn may be reserved: long enough to hold the backlog of a day's disruption (a 24-hour outage of
 * a 1,000,000-device fleet leaves about 230,000 renewals waiting, 9 hours of turns at the default queue's 7.2 a
 * second), so every waiting device holds a turn and asks about twice. Only an authenticated device reserves, one
 * turn at a time; a turn it does not come back for is one unit of capacity lost.
 */
export const ISSUANCE_QUEUE_MS = 24 * 3_600_000;

/**
 * What a device is told when even the queue is full: at least this long (spread per device up to twice that), so
 * a fleet beyond a day of turns asks about once an hour, not every time a turn frees up.
 */
export const QUEUE_FULL_RETRY_MS = 3_600_000;

/**
 * How long a reserved turn stays the device's after it starts: enough for a client that waits `Retry-After` and a
 * little more (Tether's SDK adds up to 30 s), or that ignores it and polls with a backoff of minutes. Not longer:
 * the budget was charged for the turn's time, so a device coming much later calls AWS on top of the turns of that
 * later moment.
 */
export const TURN_HOLD_MS = 10 * 60_000;

export interface Turn {
  readonly at: number;
  readonly until: number;
}

export type BudgetAdmission =
  | { readonly admitted: true }
  | {
      readonly admitted: false;
      readonly retryAfterSeconds: number;
      /** The turn to keep on the device when its slot is given back. */
      readonly turn: Turn | undefined;
    };

/**
 * Admits a device's issuance against the budget at `now`. Its turn first: the one it holds (taken with its slot)
 * or a new one from the lane's queue; before its turn it is told to come back then. At its turn its calls pass the
 * lane's admission bucket as every call does, so devices that come a little late cannot add up to more than the
 * lane's rate; one that finds it full for the moment keeps its turn and comes back in a moment.
 */
export async function admitOnBudget(
  budget: RequestBudget,
  device: Pick<Device, "deviceId" | "issuance">,
  now: number,
): Promise<BudgetAdmission> {
  const heldAt = device.issuance?.turnAt;
  const heldUntil = device.issuance?.turnUntil ?? heldAt;
  let turn: Turn;
  if (heldAt !== undefined && heldUntil !== undefined && now <= heldUntil) {
    turn = { at: heldAt, until: heldUntil };
  } else {
    const queued = await budget.reserve("issuance", now, ISSUANCE_QUEUE_MS);
    if (!queued.admitted && !queued.reserved) {
      const wait = Math.max(queued.retryAt, now + QUEUE_FULL_RETRY_MS);
      return {
        admitted: false,
        retryAfterSeconds: budgetRetryAfterSeconds(wait, now, device.deviceId),
        turn: undefined,
      };
    }
    const at = queued.admitted ? now : queued.retryAt;
    turn = { at, until: at + TURN_HOLD_MS };
  }
  if (now < turn.at) return { admitted: false, retryAfterSeconds: secondsUntil(turn.at, now), turn };
  const decision = await budget.take("issuance", 1, now);
  if (decision.admitted) return decision;
  return {
    admitted: false,
    retryAfterSeconds: budgetRetryAfterSeconds(decision.retryAt, now, device.deviceId),
    turn: { at: turn.at, until: Math.max(turn.until, decision.retryAt + TURN_HOLD_MS) },
  };
}

/** Whole seconds from `now` until `at`, rounded up (a client that waits them arrives on time), at least 1. */
function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}
