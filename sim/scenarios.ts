import type { ScenarioSpec } from "./engine.ts";

/**
 * The fleets the simulator runs, at full scale (the engine takes 1/scale of the devices and of every quota).
 * Each has 2 % of its devices offline once for one to five days.
 */
export const SCENARIOS: readonly ScenarioSpec[] = [
  {
    // A million devices on 7-day certificates, two weeks, 0.1 % inhibited (and revoked) on day 7.
    name: "steady",
    devices: 1_000_000,
    days: 14,
    warm: true,
    offlineShare: 0.02,
    inhibit: { share: 0.001, atDay: 7 },
  },
  {
    // The same fleet; Private CA unavailable for 24 hours from day 1, then back.
    name: "outage",
    devices: 1_000_000,
    days: 4,
    warm: true,
    offlineShare: 0.02,
    outage: { service: "acm-pca", atDay: 1, hours: 24 },
  },
  {
    // 100,000 new devices arriving for their first pairing within one hour.
    name: "factory",
    devices: 100_000,
    days: 1,
    warm: false,
    arrivalHours: 1,
    offlineShare: 0,
  },
  {
    // A 100,000-device realm deleted one hour in: the purge is measured (drainHours).
    name: "purge",
    devices: 100_000,
    days: 1,
    warm: true,
    offlineShare: 0,
    purgeAtDay: 1 / 24,
  },
];
