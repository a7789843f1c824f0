import type { DepsOf } from "../pairing-deps.ts";
import type { FleetView, RealmStore } from "../ports/device-store.ts";

/** Devices one backfill step gives views to at most. */
export const VIEWS_BACKFILL_BATCH = 200;

/** Of a sweeper run's time, what the backfill may take at most (while a stage has devices left to backfill). */
export const VIEWS_BACKFILL_SECONDS = 10;

/**
 * Upgrading a stage from before the device search: gives every realm's existing devices their search views, a
 * batch at a time while `hasTime`, resuming where the last run stopped (the store keeps each realm's place). A
 * realm that is done costs one read a run. Returns how many devices got views.
 */
export async function backfillViews(
  deps: DepsOf<FleetView & RealmStore>,
  hasTime: () => boolean,
): Promise<number> {
  let projected = 0;
  for (const realm of await deps.store.listRealms()) {
    for (;;) {
      if (!hasTime()) return projected;
      const step = await deps.store.backfillViews(realm.name, VIEWS_BACKFILL_BATCH);
      projected += step.projected;
      if (step.done) break;
    }
  }
  return projected;
}
