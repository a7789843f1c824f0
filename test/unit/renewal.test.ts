import { describe, expect, it } from "vitest";
import { renewAfter } from "../../functions/core/use-cases/issue-credentials.ts";
import { astarteTimestamp } from "../../functions/http/views.ts";

describe("renewal hint", () => {
  const record = {
    notBefore: "2026-11-24T00:00:00.000Z",
    notAfter: "2026-12-01T00:00:00.000Z",
    serial: "0a",
  };
  const lifetime = 7 * 24 * 3600_000;

  it("falls between 17/30 and 2/3 of the lifetime, the same for the same device and certificate", () => {
    const start = Date.parse(record.notBefore);
    const ids = Array.from({ length: 200 }, (_, i) => `device-${i}`);
    const hints = ids.map((id) => renewAfter(record, id).getTime() - start);
    for (const hint of hints) {
      expect(hint).toBeLessThanOrEqual((lifetime * 2) / 3);
      expect(hint).toBeGreaterThanOrEqual((lifetime * 2) / 3 - lifetime / 10);
    }
    // Spread: a fleet does not renew in one burst.
    expect(new Set(hints).size).toBeGreaterThan(190);
    expect(renewAfter(record, "device-1")).toEqual(renewAfter(record, "device-1"));
  });
});

describe("Astarte timestamps", () => {
  it("are UTC with milliseconds, a space and a trailing Z", () => {
    expect(astarteTimestamp(new Date("2026-11-23T10:00:00Z"))).toBe("2026-11-23 10:00:00.000Z");
  });
});
