import { describe, expect, it } from "vitest";
import type { DepsOf } from "../../../functions/core/pairing-deps.ts";
import type { FleetView, RealmStore } from "../../../functions/core/ports/device-store.ts";
import { backfillViews, VIEWS_BACKFILL_BATCH } from "../../../functions/core/use-cases/backfill-views.ts";

/** A store whose realms each need `steps` backfill calls; it records the calls. */
function stepsStore(steps: Record<string, number>) {
  const calls: string[] = [];
  const left = { ...steps };
  const store = {
    listRealms: async () => Object.keys(steps).map((name) => ({ name })),
    backfillViews: async (realm: string, limit: number) => {
      expect(limit).toBe(VIEWS_BACKFILL_BATCH);
      calls.push(realm);
      left[realm] = (left[realm] ?? 0) - 1;
      return { projected: 3, done: (left[realm] ?? 0) <= 0 };
    },
  };
  return { deps: { store } as unknown as DepsOf<FleetView & RealmStore>, calls };
}

describe("backfilling the device search's views", () => {
  it("works through every realm, a batch a call, until each is done", async () => {
    const { deps, calls } = stepsStore({ a: 2, b: 1 });
    expect(await backfillViews(deps, () => true)).toBe(9);
    expect(calls).toEqual(["a", "a", "b"]);
  });

  it("stops when the run's time is up, to resume at the next run", async () => {
    const { deps, calls } = stepsStore({ a: 5 });
    let budget = 2;
    expect(await backfillViews(deps, () => budget-- > 0)).toBe(6);
    expect(calls).toEqual(["a", "a"]);
  });
});
