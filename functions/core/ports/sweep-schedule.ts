/**
 * What starts the sweeper's runs (use-cases/sweep.ts does the work of one run). Each adapter states how it
 * behaves:
 *
 * - **AWS** (infra/constructs/certificate-sweeper.ts): an EventBridge rule invokes the sweeper function
 *   asynchronously every `SWEEP_DEFAULTS.periodSeconds` (60 s), with no retry (the next run comes a minute
 *   later). A run works for at most `runSeconds` (50 s) and its function times out at 90 s, so two runs can
 *   overlap by up to 30 s; the shared request budget keeps their sum at the sweep lane's rate.
 * - **Local** (adapters/timer-sweep-schedule.ts, `npm start`): a timer in the process, every
 *   `TETHER_SWEEP_INTERVAL_SECONDS` (60 by default); a tick while a run is going is skipped, so runs never overlap.
 * - **Virtual** (adapters/memory/virtual-sweep-schedule.ts, the fleet simulator): one run at the start of each
 *   period of virtual time, awaited before the simulation goes on; a run that is late (the simulator was busy
 *   with devices) starts at its scheduled time on its own clock, as a Lambda function invoked on time would.
 */
export interface SweepSchedule {
  /** Starts calling `run` once a period, with the time the run was scheduled for. */
  start(run: SweepRun): SweepScheduleHandle;
}

export type SweepRun = (scheduledAt: Date) => Promise<void>;

export interface SweepScheduleHandle {
  /** No more runs; resolves once a run in progress has finished. */
  stop(): Promise<void>;
}
