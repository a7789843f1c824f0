import { describe, expect, it } from "vitest";
import { charge, retryAfterSeconds } from "../../functions/core/admission.ts";
import type { CertificateRecord } from "../../functions/core/model.ts";
import { overTheCap } from "../../functions/core/use-cases/record-issuance.ts";

describe("GCRA admission", () => {
  const hour = { count: 4, periodMs: 3_600_000 };

  it("admits a burst of the budget at once, then one per interval", () => {
    let tat: number | undefined;
    let admitAt = 0;
    for (let i = 0; i < 4; i++) {
      expect(admitAt).toBeLessThanOrEqual(0);
      ({ tat, admitAt } = charge(tat, 0, hour));
    }
    // Four spent at t=0: the fifth waits one interval (15 minutes).
    expect(admitAt).toBe(900_000);
    ({ tat, admitAt } = charge(tat, 900_000, hour));
    expect(admitAt).toBe(1_800_000);
  });

  it("refills fully after a quiet period, never beyond the burst", () => {
    const { tat } = charge(undefined, 0, hour);
    // One charged after ten quiet hours: three more may follow at once (the burst), no more.
    const later = charge(tat, 10 * 3_600_000, hour);
    expect(later.admitAt).toBe(10 * 3_600_000 - 2 * 900_000);
  });

  it("spreads Retry-After per key by at most a tenth, and never below a second", () => {
    const spreads = ["a", "b", "c", "d", "e"].map((k) => retryAfterSeconds(1_000_000, 0, k));
    for (const s of spreads) {
      expect(s).toBeGreaterThanOrEqual(1000);
      expect(s).toBeLessThanOrEqual(1100);
    }
    expect(new Set(spreads).size).toBeGreaterThan(1);
    expect(retryAfterSeconds(10, 0, "a")).toBe(1);
    expect(retryAfterSeconds(1_000_000, 0, "a")).toBe(retryAfterSeconds(1_000_000, 0, "a"));
  });
});

describe("the cap on live certificates", () => {
  const cert = (serial: string, state: CertificateRecord["state"], issuedAt: string, graceUntil?: string) =>
    ({ serial, state, issuedAt, graceUntil }) as CertificateRecord;
  const now = "2026-12-01T12:00:00.000Z";
  const certificates = [
    cert("a", "superseded", "2026-12-01T09:00:00.000Z", "2026-12-01T13:00:00.000Z"),
    cert("b", "superseded", "2026-12-01T10:00:00.000Z", "2026-12-01T13:00:00.000Z"),
    cert("c", "superseded", "2026-12-01T08:00:00.000Z", "2026-12-01T11:00:00.000Z"),
    cert("d", "current", "2026-12-01T11:00:00.000Z"),
    cert("e", "retired", "2026-12-01T07:00:00.000Z", "2026-12-01T08:00:00.000Z"),
  ];

  it.each([
    [2, ["a", "b"]],
    [3, ["a"]],
    [4, []],
  ])("with at most %i live, cuts %j (oldest in grace first; the superseded-now one never)", (max, cut) => {
    expect(overTheCap(certificates, "d", now, max)).toEqual(cut);
  });

  it("counts no previous certificate when there is none", () => {
    expect(overTheCap([], undefined, now, 2)).toEqual([]);
  });
});
