import type { SweepRun, SweepSchedule, SweepScheduleHandle } from "../../core/ports/sweep-schedule.ts";

/**
 * The sweeper's schedule in virtual time (the fleet simulator): the simulation asks when the next run is due
 * (`nextAt`) and lets it happen (`runDue`) when its clock gets there; one run at a time, each started with the
 * time it was scheduled for, one period after the last.
 */
export class VirtualSweepSchedule implements SweepSchedule {
  #run: SweepRun | undefined;
  #next: number;
  /** Runs made. */
  runs = 0;

  constructor(
    private readonly periodMs: number,
    firstAt: number,
  ) {
    this.#next = firstAt;
  }

  start(run: SweepRun): SweepScheduleHandle {
    this.#run = run;
    return {
      stop: async () => {
        this.#run = undefined;
      },
    };
  }

  /** When the next run is due (epoch ms); never, once stopped. */
  nextAt(): number {
    return this.#run ? this.#next : Number.POSITIVE_INFINITY;
  }

  /** Makes every run due at or before `now`, in order. */
  async runDue(now: number): Promise<void> {
    while (this.#run && this.#next <= now) {
      const at = this.#next;
      this.#next += this.periodMs;
      this.runs++;
      await this.#run(new Date(at));
    }
  }
}
