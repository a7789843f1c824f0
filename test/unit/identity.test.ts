import { describe, expect, it } from "vitest";
import { deviceCommonName, deviceThingName, topicBelongsTo } from "../../functions/core/identity.ts";
import { devicePolicyDocument } from "../../functions/core/iot-policy.ts";

describe("device identity on the transport", () => {
  const cn = deviceCommonName("test", "AJInS0w3VpWpuOqkXhgZdA");

  it("names the client <realm>/<device_id> and the thing without a slash", () => {
    expect(cn).toBe("test/AJInS0w3VpWpuOqkXhgZdA");
    expect(deviceThingName("test", "AJInS0w3VpWpuOqkXhgZdA")).toBe("test:AJInS0w3VpWpuOqkXhgZdA");
  });

  it.each([
    [cn, true],
    [`${cn}/metadata`, true],
    [`${cn}/#`, true],
    [`${cn}/+/value`, true],
    [`${cn}x`, false],
    ["test/AJInS0w3VpWpuOqkXhgZdB/metadata", false],
    ["test/#", false],
    ["#", false],
    ["+/AJInS0w3VpWpuOqkXhgZdA", false],
    ["", false],
  ])("topic %s belongs to the device: %s", (topic, expected) => {
    expect(topicBelongsTo(cn, topic)).toBe(expected);
  });
});

describe("device IoT policy", () => {
  const doc = devicePolicyDocument("arn:aws:iot:eu-west-1:111122223333") as {
    Statement: { Action: string | string[]; Resource: string | string[]; Condition?: unknown }[];
  };

  it("lets a certificate connect only as its own CN, and only while attached to a thing", () => {
    const connect = doc.Statement.find((s) => s.Action === "iot:Connect");
    expect(connect?.Resource).toBe(
      "arn:aws:iot:eu-west-1:111122223333:client/${iot:Certificate.Subject.CommonName}",
    );
    expect(connect?.Condition).toEqual({ Bool: { "iot:Connection.Thing.IsAttached": "true" } });
  });

  it("scopes every resource to the certificate's CN, with no account-wide wildcard", () => {
    const resources = doc.Statement.flatMap((s) => [s.Resource].flat());
    expect(resources).toHaveLength(5);
    for (const resource of resources) {
      expect(resource).toMatch(
        /^arn:aws:iot:eu-west-1:111122223333:(client|topic|topicfilter)\/\$\{iot:Certificate\.Subject\.CommonName\}(\/\*)?$/,
      );
    }
  });
});
