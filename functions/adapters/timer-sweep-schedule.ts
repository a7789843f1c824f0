import type { SweepRun, SweepSchedule, SweepScheduleHandle } from "../core/ports/sweep-schedule.ts";

/**
 * The sweeper's schedule in a long-running process (`npm start`): a run every `periodMs` of real time, never two
 * at once (a tick that finds a run going is skipped and counted), stopped with the process.
 */
export class TimerSweepSchedule implements SweepSchedule {
  /** Ticks skipped because the previous run was still going. */
  skipped = 0;

  constructor(
    private readonly periodMs: number,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  start(run: SweepRun): SweepScheduleHandle {
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (running) {
        this.skipped++;
        return;
      }
      running = run(new Date())
        .catch(this.onError)
        .finally(() => {
          running = undefined;
        });
    }, this.periodMs);
    return {
      stop: async () => {
        clearInterval(timer);
        await running;
      },
    };
  }
}
