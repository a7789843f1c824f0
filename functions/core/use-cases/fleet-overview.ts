import { DomainError, UnknownRealmError } from "../errors.ts";
import {
  ACTIVITY_HOURS,
  type ActivityCounts,
  type ActivityHour,
  type FleetCounts,
  hourOf,
} from "../fleet-stats.ts";
import type { Realm } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { FleetStats } from "../ports/device-store.ts";

/**
 * How old the overview's device counts may be before a view of the overview counts again. A count reads one index
 * entry per device (about 25,000 read units for a million devices), so it is bounded in time, not done per view:
 * at most one per realm per five minutes, whoever looks, and none for a realm nobody looks at.
 */
export const FLEET_COUNTS_MAX_AGE_SECONDS = 300;

/** The fleet at a glance: its counts (and how fresh they are) and its hourly activity over the last 7 days. */
export interface FleetOverview {
  readonly counts: FleetCounts;
  /** How long after `counts.at` the counts are taken again. */
  readonly countsMaxAgeSeconds: number;
  /** Hours from `from` to `to` (both included, `hourOf` format); hours without activity are left out. */
  readonly activity: { readonly from: string; readonly to: string; readonly hours: readonly ActivityHour[] };
}

/** The realm's overview (the dashboard's home): the saved counts, counted afresh when too old, and its activity. */
export async function fleetOverview(deps: DepsOf<FleetStats, "clock">, realm: Realm): Promise<FleetOverview> {
  const now = deps.clock.now();
  const saved = await deps.store.getFleetCounts(realm.name);
  let counts = saved;
  if (!counts || now.getTime() - Date.parse(counts.at) > FLEET_COUNTS_MAX_AGE_SECONDS * 1000) {
    counts = await deps.store.countFleet(realm.name, now.toISOString());
    await deps.store.saveFleetCounts(realm.name, counts);
  }
  const to = hourOf(now.toISOString());
  const from = hourOf(new Date(now.getTime() - (ACTIVITY_HOURS - 1) * 3600_000).toISOString());
  const hours = await deps.store.readActivity(realm.name, from, to);
  return { counts, countsMaxAgeSeconds: FLEET_COUNTS_MAX_AGE_SECONDS, activity: { from, to, hours } };
}

/**
 * What a refused credentials request counts as (`refused_<cause>`), or nothing: only causes found after the realm
 * was read: a request naming no realm of Tether's never creates counters for it.
 */
export function refusalCounted(error: unknown): ActivityCounts | undefined {
  if (!(error instanceof DomainError) || error instanceof UnknownRealmError) return undefined;
  return { [`refused_${error.code}`]: 1 };
}
