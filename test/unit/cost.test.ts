import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  compareCaModes,
  crossoverDevices,
  estimateCost,
  generalPurposeCertificates,
} from "../../cli/cost.ts";
import { README_TABLES, routeTableMarkdown } from "../../scripts/readme-tables.ts";

const WEEK = 7 * 86_400;

describe("the cost estimate", () => {
  it("prices general-purpose certificates tier by tier", () => {
    expect(generalPurposeCertificates(1_000)).toBeCloseTo(750);
    expect(generalPurposeCertificates(10_000)).toBeCloseTo(750 + 9_000 * 0.35);
    expect(generalPurposeCertificates(110_000)).toBeCloseTo(750 + 3_150 + 100);
  });

  it("names the cheaper mode, and the crossover is where general-purpose starts to win", () => {
    const n = crossoverDevices(WEEK);
    expect(n).toBeGreaterThan(11_000);
    expect(n).toBeLessThan(12_500);
    const fleet = (devices: number) =>
      compareCaModes({ devices, validitySeconds: WEEK, messagesPerMinute: 1 });
    expect(fleet(n - 1).cheaper).toBe("short-lived");
    expect(fleet(n).cheaper).toBe("general-purpose");
    const million = fleet(1_000_000);
    expect(million.generalPurpose.lines[1]?.monthlyUsd).toBeLessThan(11_000);
    expect(million.shortLived.lines[1]?.monthlyUsd).toBeGreaterThan(370_000);
    // Only the CA lines differ between the modes.
    expect(million.shortLived.lines.slice(2)).toEqual(million.generalPurpose.lines.slice(2));
    expect(estimateCost({ devices: 10, validitySeconds: WEEK, messagesPerMinute: 0 }).caMode).toBe(
      "short-lived",
    );
  });

  it("README's generated tables (routes, cost) are current (npm run docs)", () => {
    const readme = readFileSync(resolve(import.meta.dirname, "..", "..", "README.md"), "utf8");
    for (const [name, table] of Object.entries(README_TABLES)) {
      expect(readme, name).toContain(`<!-- ${name}:start -->\n${table()}\n<!-- ${name}:end -->`);
    }
    expect(routeTableMarkdown()).toContain("`GET /appengine/v1/{realm}/devices/{device_id}/events`");
    expect(routeTableMarkdown()).toContain("`GET /pairing/openapi.json`");
  });
});
