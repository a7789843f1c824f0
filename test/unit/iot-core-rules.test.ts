import { describe, expect, it } from "vitest";
import {
  clientIdProblem,
  effectiveKeepAlive,
  inactivityLimitMs,
  iotFilterMatches,
  topicFilterProblem,
  topicNameProblem,
} from "../../local/iot-core-rules.ts";

describe("IoT Core's broker rules (local broker)", () => {
  it("applies keep-alive as IoT Core does: at least 30 s, 0 or over 1200 s means 1200 s", () => {
    expect([0, 1, 29, 30, 60, 1200, 1201, 65535].map(effectiveKeepAlive)).toEqual([
      1200, 30, 30, 30, 60, 1200, 1200, 1200,
    ]);
    expect(inactivityLimitMs(60)).toBe(90_000);
  });

  it("takes client ids of 1 to 128 bytes of UTF-8", () => {
    expect(clientIdProblem("")).toMatch(/empty/);
    expect(clientIdProblem("a".repeat(128))).toBeUndefined();
    expect(clientIdProblem("é".repeat(65))).toMatch(/128 bytes/);
  });

  it("bounds topics at 256 bytes and 7 slashes, not counting `$aws/rules/<rule>/`", () => {
    expect(topicNameProblem("a/b/c/d/e/f/g/h")).toBeUndefined();
    expect(topicNameProblem("a/b/c/d/e/f/g/h/i")).toMatch(/slashes/);
    expect(topicNameProblem("$aws/rules/r/a/b/c/d/e/f/g/h")).toBeUndefined();
    expect(topicNameProblem("x".repeat(256))).toBeUndefined();
    expect(topicNameProblem("x".repeat(257))).toMatch(/256 bytes/);
    expect(topicNameProblem("a/+/b")).toMatch(/wildcard/);
    expect(topicNameProblem("")).toMatch(/empty/);
  });

  it("checks filters the same way, wildcards well placed, `$share/<group>/` aside", () => {
    expect(topicFilterProblem("a/+/c/#")).toBeUndefined();
    expect(topicFilterProblem("a/#/c")).toMatch(/#/);
    expect(topicFilterProblem("a/b+")).toMatch(/\+/);
    expect(topicFilterProblem("$share/g/a/#")).toBeUndefined();
    expect(topicFilterProblem("$share/g")).toMatch(/shared/);
  });

  it("matches filters as IoT Core does: `a/#` matches below `a`, not `a`", () => {
    expect(iotFilterMatches("a/#", "a")).toBe(false);
    expect(iotFilterMatches("a/#", "a/")).toBe(true);
    expect(iotFilterMatches("a/#", "a/b/c")).toBe(true);
    expect(iotFilterMatches("a/+", "a/b")).toBe(true);
    expect(iotFilterMatches("a/+", "a/b/c")).toBe(false);
    expect(iotFilterMatches("a/b", "a/b")).toBe(true);
    expect(iotFilterMatches("$share/g/a/+", "a/b")).toBe(true);
  });
});
