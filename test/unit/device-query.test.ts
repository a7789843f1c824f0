import { describe, expect, it } from "vitest";
import {
  checkDeviceQuery,
  decodePageToken,
  deviceListStatus,
  deviceSortKey,
  encodePageToken,
  isSearch,
  lastSeen,
} from "../../functions/core/device-query.ts";
import { ValidationError } from "../../functions/core/errors.ts";
import type { Device } from "../../functions/core/model.ts";

const device = (over: Partial<Device> = {}): Device => ({
  realm: "r",
  deviceId: "AAAAAAAAAAAAAAAAAAAAAA",
  secretHash: "h",
  firstRegistration: "2026-01-01T00:00:00.000Z",
  firstCredentialsRequest: undefined,
  lastCredentialsRequestIp: undefined,
  credentialsInhibited: false,
  introspection: {},
  currentSerial: undefined,
  ...over,
});

describe("the device search's rules", () => {
  it("names a device's status: inhibited over confirmed over pending", () => {
    expect(deviceListStatus(device())).toBe("pending");
    expect(deviceListStatus(device({ firstCredentialsRequest: "2026-01-02T00:00:00.000Z" }))).toBe(
      "confirmed",
    );
    expect(
      deviceListStatus(
        device({ firstCredentialsRequest: "2026-01-02T00:00:00.000Z", credentialsInhibited: true }),
      ),
    ).toBe("inhibited");
  });

  it("orders by last seen, the later of connection and disconnection, never-seen last", () => {
    expect(lastSeen(device())).toBeUndefined();
    expect(lastSeen(device({ lastConnection: "2026-01-02T00:00:00.000Z" }))).toBe("2026-01-02T00:00:00.000Z");
    expect(lastSeen(device({ lastDisconnection: "2026-01-03T00:00:00.000Z" }))).toBe(
      "2026-01-03T00:00:00.000Z",
    );
    expect(
      lastSeen(
        device({ lastConnection: "2026-01-04T00:00:00.000Z", lastDisconnection: "2026-01-03T00:00:00.000Z" }),
      ),
    ).toBe("2026-01-04T00:00:00.000Z");
    expect(deviceSortKey(device(), "last_seen")).toBe("0#AAAAAAAAAAAAAAAAAAAAAA");
    expect(deviceSortKey(device(), "device_id")).toBe("AAAAAAAAAAAAAAAAAAAAAA");
  });

  it("serves the listed combinations and refuses the rest by name", () => {
    expect(isSearch({ sort: "device_id" })).toBe(false);
    expect(isSearch({ sort: "last_seen" })).toBe(true);
    expect(checkDeviceQuery({ sort: "device_id", status: "pending", idPrefix: "A" })).toBeTruthy();
    expect(checkDeviceQuery({ sort: "last_seen", status: "pending", connected: false })).toBeTruthy();
    expect(() => checkDeviceQuery({ sort: "device_id", connected: true })).toThrow(ValidationError);
    expect(
      checkDeviceQuery({ sort: "expiry", status: "confirmed", expiringBefore: "2026-01-01T00:00:00.000Z" }),
    ).toBeTruthy();
    expect(() => checkDeviceQuery({ sort: "expiry", connected: true })).toThrow(ValidationError);
    expect(() => checkDeviceQuery({ sort: "expiry", idPrefix: "A" })).toThrow(ValidationError);
    expect(() => checkDeviceQuery({ sort: "device_id", expiringBefore: "2026-01-01T00:00:00.000Z" })).toThrow(
      ValidationError,
    );
    expect(isSearch({ sort: "device_id", expiringBefore: "2026-01-01T00:00:00.000Z" })).toBe(true);
    // A page token stays within the API's 256 characters whatever the query holds.
    const long = { sort: "device_id", metadata: { key: "model", value: "x".repeat(256) } } as const;
    const token = encodePageToken(long, "AAAAAAAAAAAAAAAAAAAAAA");
    expect(token.length).toBeLessThanOrEqual(256);
    expect(decodePageToken(long, token)).toBe("AAAAAAAAAAAAAAAAAAAAAA");
    expect(() => decodePageToken({ ...long, metadata: { key: "model", value: "y" } }, token)).toThrow(
      ValidationError,
    );
    expect(deviceSortKey(device({ currentNotAfter: "2026-02-01T00:00:00.000Z" }), "expiry")).toBe(
      "2026-02-01T00:00:00.000Z#AAAAAAAAAAAAAAAAAAAAAA",
    );
    expect(() => checkDeviceQuery({ sort: "last_seen", idPrefix: "A" })).toThrow(ValidationError);
  });

  it("keeps a page token to its own search", () => {
    const query = { sort: "device_id", status: "pending" } as const;
    const token = encodePageToken(query, "AAAA");
    expect(decodePageToken(query, token)).toBe("AAAA");
    expect(() => decodePageToken({ sort: "device_id" }, token)).toThrow(ValidationError);
    expect(() => decodePageToken(query, "not a token")).toThrow(ValidationError);
    expect(() => decodePageToken(query, Buffer.from("[1]").toString("base64url"))).toThrow(ValidationError);
  });
});
