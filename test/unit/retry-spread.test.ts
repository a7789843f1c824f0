import { describe, expect, it } from "vitest";
import { jittered } from "../../functions/http/errors.ts";
import { PairingClient, retryAfterWait } from "../../sdk/pairing-client.ts";

describe("retries spread out", () => {
  it("answers Retry-After between the base and twice it, in whole seconds", () => {
    const drawn = new Set(Array.from({ length: 400 }, () => jittered(2)));
    expect([...drawn].every((s) => Number.isInteger(s) && s >= 2 && s <= 4)).toBe(true);
    expect(drawn.size).toBe(3);
  });

  it("the SDK waits at least Retry-After, spread above it, before trying again", async () => {
    const waits: number[] = [];
    let calls = 0;
    const client = new PairingClient({
      pairingUrl: "http://tether.invalid/pairing",
      realm: "r",
      deviceId: "AJInS0w3VpWpuOqkXhgZdA",
      credentialsSecret: "s",
      sleep: async (ms) => {
        waits.push(ms);
      },
      fetch: async () => {
        calls++;
        if (calls <= 20) {
          return new Response('{"errors":{"detail":"Too many requests"}}', {
            status: 429,
            headers: { "retry-after": "3" },
          });
        }
        return Response.json({
          data: {
            version: "1",
            status: "pending",
            protocols: { astarte_mqtt_v1: { broker_url: "mqtts://b:8883/" } },
          },
        });
      },
      retry: { maxAttempts: 21, baseDelayMs: 10, maxDelayMs: 100 },
    });
    await expect(client.info()).resolves.toMatchObject({ status: "pending" });
    expect(waits).toHaveLength(20);
    expect(waits.every((ms) => ms >= 3000 && ms <= 6000)).toBe(true);
    expect(new Set(waits.map((ms) => Math.round(ms))).size).toBeGreaterThan(10);
  });

  it("spreads a long Retry-After by 30 s at most: the turn Tether holds lasts 10 minutes", () => {
    expect(retryAfterWait(3, 0)).toBe(3_000);
    expect(retryAfterWait(3, 0.5)).toBe(4_500);
    expect(retryAfterWait(3_600, 0)).toBe(3_600_000);
    expect(retryAfterWait(3_600, 0.999)).toBeLessThanOrEqual(3_630_000);
  });
});
