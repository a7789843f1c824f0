import { describe, expect, it } from "vitest";
import { canonicalDeviceId, deviceIdFromString, randomDeviceId } from "../../functions/contracts/ids.ts";

describe("device ids", () => {
  it("derives the spec's test vector with UUIDv5", () => {
    expect(deviceIdFromString("f79ad91f-c638-4889-ae74-9d001a3b4cf8", "myidentifierdata")).toBe(
      "AJInS0w3VpWpuOqkXhgZdA",
    );
  });

  it("makes random ids that are canonical 22-character UUIDv4s", () => {
    const id = randomDeviceId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(canonicalDeviceId(id)).toBe(id);
    expect((Buffer.from(id, "base64url")[6] ?? 0) >> 4).toBe(4);
  });

  it.each([
    ["AJInS0w3VpWpuOqkXhgZdA", "AJInS0w3VpWpuOqkXhgZdA"],
    ["AJInS0w3VpWpuOqkXhgZdAAAAA", "AJInS0w3VpWpuOqkXhgZdA"],
    ["AJInS0w3VpWpuOqkXhgZdB", undefined],
    ["AJInS0w3VpWpuOqkXhgZd", undefined],
    ["AJInS0w3VpWpuOqkXhgZd=", undefined],
    ["AJInS0w3VpWpuOqkXhg/dA", undefined],
    ["AJInS0w3VpWpuOqkXhg\u0000dA", undefined],
    ["../../../../etc/passwd00", undefined],
    ["", undefined],
  ])("canonicalDeviceId(%j) is %j", (text, expected) => {
    expect(canonicalDeviceId(text)).toBe(expected);
  });
});
