import { describe, expect, it } from "vitest";
import { ValidationError } from "../../functions/core/errors.ts";
import type { Device, Realm } from "../../functions/core/model.ts";
import { pageStart } from "../../functions/http/validation.ts";
import {
  deviceInfoView,
  deviceListView,
  deviceStatusView,
  realmView,
  verificationView,
} from "../../functions/http/views.ts";

const realm = { name: "fleet", brokerUrl: undefined, indexedMetadataKeys: ["model"] } as unknown as Realm;
const device = (deviceId: string) =>
  ({
    deviceId,
    realm: "fleet",
    credentialsInhibited: false,
    firstRegistration: "2026-12-01T00:00:00.000Z",
    introspection: {},
    metadata: { model: "A300" },
  }) as unknown as Device;
const A = "AJInS0w3VpWpuOqkXhgZdA";
const B = "AJInS0w3VpWpuOqkXhgZdQ";

describe("wire views (http/views.ts)", () => {
  it("pages the device list as Astarte does: ids by default, status objects with details, links as paths", () => {
    const page = { devices: [{ device: device(A), certificate: undefined }], next: A };
    const ids = deviceListView(realm, { details: "false", limit: 1 }, undefined, page);
    expect(ids).toEqual({
      data: [A],
      links: {
        self: "/v1/fleet/devices?details=false&limit=1",
        next: `/v1/fleet/devices?details=false&from_token=${A}&limit=1`,
      },
    });
    const details = deviceListView(realm, { details: "true", limit: 1 }, B, { ...page, next: undefined });
    expect(details.links).toEqual({ self: `/v1/fleet/devices?details=true&from_token=${B}&limit=1` });
    expect(details.data).toEqual([expect.objectContaining({ id: A, connected: false, certificate: null })]);
  });

  it("reads where a page starts from from_token or from, and refuses a token that names no device", () => {
    expect(pageStart({})).toBeUndefined();
    expect(pageStart({ from_token: A })).toBe(A);
    expect(pageStart({ from: `${A}AAAAAA` })).toBe(A);
    expect(() => pageStart({ from_token: "!!" })).toThrow(ValidationError);
    expect(() => pageStart({ from: "!!" })).toThrow(
      expect.objectContaining({ fields: { from: ["is not a page token"] } }),
    );
  });

  it("writes verify's answer in Astarte's timestamp form", () => {
    const at = new Date("2026-12-03T10:00:00Z");
    expect(verificationView({ valid: false, at, cause: "EXPIRED" })).toEqual({
      valid: false,
      timestamp: "2026-12-03 10:00:00.000Z",
      cause: "EXPIRED",
      details: null,
    });
    expect(
      verificationView({
        valid: true,
        at,
        until: new Date("2026-12-10T10:00:00Z"),
        renewAfter: new Date("2026-12-08T00:00:00Z"),
      }),
    ).toEqual({
      valid: true,
      timestamp: "2026-12-03 10:00:00.000Z",
      until: "2026-12-10 10:00:00.000Z",
      renew_after: "2026-12-08T00:00:00.000Z",
    });
  });

  it("shows device info, status and a realm in snake_case, with the service's broker where the realm has none", () => {
    expect(deviceInfoView({ version: "1.0.0", status: "pending", brokerUrl: "mqtts://b/" })).toEqual({
      version: "1.0.0",
      status: "pending",
      protocols: { astarte_mqtt_v1: { broker_url: "mqtts://b/" } },
    });
    expect(deviceStatusView({ device: device(A), certificate: undefined })).toMatchObject({
      id: A,
      credentials_inhibited: false,
      metadata: { model: "A300" },
    });
    expect(realmView({ ...realm, graceSeconds: 60 } as Realm, "mqtts://default/")).toMatchObject({
      realm_name: "fleet",
      broker_url: "mqtts://default/",
      grace_seconds: 60,
      indexed_metadata_keys: ["model"],
    });
  });
});
