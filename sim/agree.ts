import type { ScenarioResult } from "./engine.ts";

/**
 * Whether one scenario run at two scales tells the same story: the figures the scale issue names (the sweeper's
 * backlog at the end, brought to full scale; the past-grace p99; the share of requests answered 429), each within
 * `tolerance` of the larger of the two, or within a floor where the figure is near nothing: one sweeper run's
 * capacity at full scale (400 items) for the backlog, one sweeper period (60 s) for the p99, one point for the
 * 429 share.
 */
export interface Agreement {
  readonly figure: "dueBacklogEnd" | "pastGraceActiveP99Seconds" | "share429";
  readonly a: number;
  readonly b: number;
  /** The difference, as a share of the larger value (0 when both are 0). */
  readonly difference: number;
  readonly agrees: boolean;
}

export const AGREEMENT_TOLERANCE = 0.1;

const FLOORS = {
  dueBacklogEnd: 400,
  pastGraceActiveP99Seconds: 60,
  share429: 0.01,
} as const;

/** A figure as it would be at full scale (the backlog is a count of this run's fleet; the others are not). */
function fullScale(result: ScenarioResult, figure: keyof typeof FLOORS): number {
  const divisor = Number(result.scale.split("/")[1] ?? 1);
  return figure === "dueBacklogEnd" ? result[figure] * divisor : result[figure];
}

export function agreement(
  a: ScenarioResult,
  b: ScenarioResult,
  tolerance = AGREEMENT_TOLERANCE,
): readonly Agreement[] {
  return (Object.keys(FLOORS) as (keyof typeof FLOORS)[]).map((figure) => {
    const x = fullScale(a, figure);
    const y = fullScale(b, figure);
    const larger = Math.max(Math.abs(x), Math.abs(y));
    const gap = Math.abs(x - y);
    return {
      figure,
      a: x,
      b: y,
      difference: larger === 0 ? 0 : Number((gap / larger).toFixed(4)),
      agrees: gap <= tolerance * larger || gap <= FLOORS[figure],
    };
  });
}
