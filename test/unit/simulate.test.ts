import { describe, expect, it } from "vitest";
import { agreement } from "../../sim/agree.ts";
import { runScenario } from "../../sim/engine.ts";
import { SCENARIOS } from "../../sim/scenarios.ts";

const scenario = (name: string) => {
  const spec = SCENARIOS.find((s) => s.name === name);
  if (!spec) throw new Error(`no scenario ${name}`);
  return spec;
};

/**
 * The fleet simulator's scenarios at 1/2000 (the production use-cases on the in-memory adapters): the targets'
 * invariants hold at any scale — no 5xx, the backlog drains, nothing past its grace stays ACTIVE beyond the
 * sweeper's bound. `npm run simulate` runs them at 1/20.
 */
describe("fleet simulator, every scenario at 1/2000", () => {
  const scale = 1 / 2000;

  it("steady: no 5xx, no backlog left, superseded certificates leave IoT within the bound, nobody expires online", async () => {
    const r = await runScenario(scenario("steady"), { scale });
    expect(r.issued).toBeGreaterThan(r.devices * scale * 2);
    expect(r.http5xx).toBe(0);
    expect(r.dueBacklogEnd).toBe(0);
    expect(r.pastGraceActiveP99Seconds).toBeLessThanOrEqual(300);
    expect(r.devicesExpiredWhileOnline).toBe(0);
    expect(r.unpairedAtEnd).toBe(0);
    expect(r.swept).toBeGreaterThanOrEqual(r.superseded * 0.95);
  }, 120_000);

  it("outage: a day without Private CA ends in 429/503 only, drains within 12 hours, and leaves no device unpaired", async () => {
    const r = await runScenario(scenario("outage"), { scale });
    expect(r.http5xx).toBe(0);
    expect(r.drainHours).toBeGreaterThan(0);
    // The 12-hour target is the 1/20 run's (README); at 1/2000 the budget admits one issuance every 250 s, too coarse
    // to hold to the hour, so this checks that it drains well before the run ends.
    expect(r.drainHours).toBeLessThanOrEqual(24);
    expect(r.unpairedAtEnd).toBe(0);
    expect(r.dueBacklogEnd).toBe(0);
  }, 120_000);

  it("factory: every new device pairs within the quotas, without a 5xx", async () => {
    const r = await runScenario(scenario("factory"), { scale });
    expect(r.issued).toBe(Math.round(r.devices * scale));
    expect(r.http5xx).toBe(0);
    expect(r.throttledByAws).toEqual({});
    expect(r.lastPairedHours).toBeLessThan(24);
  }, 120_000);

  it("purge: a deleted realm is purged to the last device and its record removed", async () => {
    const r = await runScenario(scenario("purge"), { scale });
    expect(r.drainHours).toBeGreaterThan(0);
    expect(r.http5xx).toBe(0);
    expect(r.dueBacklogEnd).toBe(0);
  }, 120_000);
});

/**
 * Scaling down keeps the story: the same scenario at two scales gives the same backlog (brought to full scale),
 * past-grace p99 and 429 share, within 10 % (or a floor where a figure is near nothing; sim/agree.ts).
 * `npm run simulate -- --scale 20 --agree 40` does the same at the scales.
 */
describe("fleet simulator, two scales", () => {
  it.each(["steady", "outage"])(
    "%s agrees at 1/1000 and 1/2000",
    async (name) => {
      const [a, b] = await Promise.all([
        runScenario(scenario(name), { scale: 1 / 1000 }),
        runScenario(scenario(name), { scale: 1 / 2000 }),
      ]);
      for (const figure of agreement(a, b)) expect(figure).toMatchObject({ agrees: true });
    },
    300_000,
  );
});
