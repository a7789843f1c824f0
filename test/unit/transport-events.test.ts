import { describe, expect, it } from "vitest";
import type { DeviceStore } from "../../functions/core/ports/device-store.ts";
import { recordMetadata, recordPresence } from "../../functions/core/use-cases/transport-events.ts";

/** Only what these use-cases touch; anything else would be a bug in the test. */
function fakeStore(known: boolean, indexedMetadataKeys: string[] = []) {
  const writes: unknown[] = [];
  const indexes: unknown[] = [];
  const store = {
    async getRealmAndDevice() {
      return known ? { realm: { indexedMetadataKeys }, device: { metadata: { a: 1 } } } : {};
    },
    async setMetadata(_r: string, _d: string, metadata: unknown, indexed: unknown) {
      writes.push(metadata);
      indexes.push(indexed);
      return known;
    },
    async recordPresence(_r: string, _d: string, presence: unknown) {
      writes.push(presence);
      return known;
    },
  } as unknown as DeviceStore;
  return { store, writes, indexes };
}

const topic = "meters/AJInS0w3VpWpuOqkXhgZdA/metadata";
const payload = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value));

describe("transport events", () => {
  it("merges valid metadata into what the device reported before", async () => {
    const { store, writes } = fakeStore(true);
    expect(await recordMetadata({ store }, { topic, payload: payload({ b: "x", c: true }) })).toBe(
      "recorded",
    );
    expect(writes).toEqual([{ a: 1, b: "x", c: true }]);
  });

  it("records the values of the realm's indexed keys as text, for the device search", async () => {
    const { store, indexes } = fakeStore(true, ["a", "c", "missing"]);
    await recordMetadata({ store }, { topic, payload: payload({ b: "x", c: true }) });
    expect(indexes).toEqual([{ a: "1", c: "true" }]);
    // A realm that indexes nothing records no index.
    const plain = fakeStore(true);
    await recordMetadata({ store: plain.store }, { topic, payload: payload({ b: "x" }) });
    expect(plain.indexes).toEqual([undefined]);
  });

  it.each([
    ["not JSON", "{"],
    ["an array", [1]],
    ["null", "null"],
    ["nested", { a: { b: 1 } }],
    ["NaN-like", '{"a": 1e999}'],
    ["too long a value", { a: "x".repeat(257) }],
    ["too long a key", { ["k".repeat(65)]: 1 }],
    ["an empty key", { "": 1 }],
    ["__proto__", '{"__proto__": 1}'],
    ["constructor", '{"constructor": "x"}'],
    ["toString", { toString: 1 }],
    ["hasOwnProperty", { hasOwnProperty: true }],
    ["too many keys", Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]))],
    ["too large", { a: "x".repeat(5000) }],
  ])("ignores %s", async (_name, value) => {
    const { store, writes } = fakeStore(true);
    expect(await recordMetadata({ store }, { topic, payload: payload(value) })).toBe("invalid");
    expect(writes).toEqual([]);
  });

  it.each([
    "meters/metadata",
    "Meters/AJInS0w3VpWpuOqkXhgZdA/metadata",
    "meters/AJInS0w3VpWpuOqkXhgZdB/metadata",
    "meters/AJInS0w3VpWpuOqkXhgZdAAAAA/metadata",
  ])("ignores a topic that names no device: %s", async (t) => {
    const { store, writes } = fakeStore(true);
    expect(await recordMetadata({ store }, { topic: t, payload: payload({ a: 1 }) })).toBe("invalid");
    expect(writes).toEqual([]);
  });

  it("reports unknown devices and forged client ids without writing", async () => {
    const { store } = fakeStore(false);
    expect(await recordMetadata({ store }, { topic, payload: payload({ a: 1 }) })).toBe("unknown_device");
    const forged = fakeStore(true);
    for (const clientId of ["", "admin", "meters/../x", "$aws/things/x"]) {
      expect(
        await recordPresence(
          { store: forged.store },
          { clientId, connected: true, at: new Date(), ip: undefined },
        ),
      ).toBe("invalid");
    }
    expect(forged.writes).toEqual([]);
  });

  it("ignores the disconnection IoT Core reports when a device's new session took over its old one", async () => {
    const { store, writes } = fakeStore(true);
    const clientId = "meters/AJInS0w3VpWpuOqkXhgZdA";
    const at = new Date();
    expect(
      await recordPresence(
        { store },
        { clientId, connected: false, at, ip: undefined, disconnectReason: "DUPLICATE_CLIENTID" },
      ),
    ).toBe("takeover");
    expect(writes).toEqual([]);
    // Any other reason is a disconnection.
    expect(
      await recordPresence(
        { store },
        { clientId, connected: false, at, ip: undefined, disconnectReason: "MQTT_KEEP_ALIVE_TIMEOUT" },
      ),
    ).toBe("recorded");
    expect(writes).toEqual([{ connected: false, at: at.toISOString(), ip: undefined }]);
  });
});
