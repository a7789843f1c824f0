import { describe, expect, it } from "vitest";
import { VirtualSweepSchedule } from "../../functions/adapters/memory/index.ts";
import { TimerSweepSchedule } from "../../functions/adapters/timer-sweep-schedule.ts";

describe("what starts the sweeper's runs (core/ports/sweep-schedule.ts)", () => {
  it("locally: a run every period, never two at once, and stop waits for the one in progress", async () => {
    const errors: unknown[] = [];
    const schedule = new TimerSweepSchedule(10, (error) => errors.push(error));
    let running = 0;
    let most = 0;
    let runs = 0;
    let finished = 0;
    const handle = schedule.start(async () => {
      runs++;
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 35));
      running--;
      finished++;
      if (runs === 2) throw new Error("a failed run does not stop the schedule");
    });
    while (runs < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    await handle.stop();
    expect(most).toBe(1);
    expect(schedule.skipped).toBeGreaterThan(0);
    expect(finished).toBe(runs);
    expect(errors).toHaveLength(1);
    const after = runs;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(runs).toBe(after);
  });

  it("in virtual time: each run at its scheduled time, in order, until stopped", async () => {
    const schedule = new VirtualSweepSchedule(60_000, 60_000);
    const at: number[] = [];
    const handle = schedule.start(async (scheduled) => {
      at.push(scheduled.getTime());
    });
    expect(schedule.nextAt()).toBe(60_000);
    await schedule.runDue(59_999);
    expect(at).toEqual([]);
    // Late (the simulation was busy): every run due is made, each with its own time.
    await schedule.runDue(200_000);
    expect(at).toEqual([60_000, 120_000, 180_000]);
    expect(schedule.nextAt()).toBe(240_000);
    await handle.stop();
    expect(schedule.nextAt()).toBe(Number.POSITIVE_INFINITY);
    await schedule.runDue(1_000_000);
    expect(schedule.runs).toBe(3);
  });
});
