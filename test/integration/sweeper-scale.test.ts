import { randomBytes } from "node:crypto";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pairingDeps } from "../../functions/adapters/container.ts";
import { SWEEP_SHARDS, sweepShardOf } from "../../functions/adapters/table-schema.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { measureBacklog } from "../../functions/core/use-cases/sweep.ts";
import { handler } from "../../functions/handlers/sweeper.ts";
import { runningFunction } from "../../local/function-context.ts";
import { type LocalTether, startLocalTether } from "../support/tether.ts";

/** The context Lambda hands a function: what the sweeper reads of it is its remaining time. */
const lambdaContext = (budgetMs: number): Context => {
  const deadline = Date.now() + budgetMs;
  return {
    functionName: "tether-sweeper",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:tether-sweeper",
    memoryLimitInMB: "512",
    awsRequestId: randomBytes(8).toString("hex"),
    logGroupName: "/aws/lambda/tether-sweeper",
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
};

describe("the sweeper Lambda against moto, at more than the old per-run cap", () => {
  let tether: LocalTether;

  beforeAll(async () => {
    // A stage that raised its IoT quotas: a sweep lane of 60 items a second, so one 50-second run may take 3,000,
    // each admitted by the budget's cells in DynamoDB.
    tether = await startLocalTether({ budget: { issuance: null, sweep: 60, burstSeconds: 2 } });
  });
  afterAll(async () => tether.close());

  it("drains 600 due items (the old cap was 500 per 5-minute run) in one run, every shard served", async () => {
    await tether.createRealm("swept");
    const { store } = pairingDeps();
    const past = new Date(tether.clock.now().getTime() - 60_000).toISOString();
    const perShard = new Map<number, number>();
    // Abandoned issuances with no certificate yet: the cheapest due items, one DynamoDB write each.
    const intents = Array.from({ length: 600 }, () => ({
      realm: "swept",
      deviceId: randomDeviceId(),
      requestId: randomBytes(6).toString("hex"),
      createdAt: past,
    }));
    for (let i = 0; i < intents.length; i += 25) {
      await Promise.all(intents.slice(i, i + 25).map((intent) => store.putIntent(intent, past)));
    }
    for (const { deviceId } of intents) {
      const shard = sweepShardOf(deviceId);
      perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
    }
    expect(perShard.size).toBe(SWEEP_SHARDS);

    const started = Date.now();
    const report = await runningFunction.run("sweeper", () => handler({}, lambdaContext(90_000)));
    expect(report.outcomes.intent_cleared).toBe(600);
    // Paced by the budget: 600 items at 60 a second after a burst of 120 take 8 s at least.
    expect(Date.now() - started).toBeGreaterThanOrEqual(7_500);
    expect(report.outcomes.failed).toBe(0);
    expect(report.truncated).toBe(false);
    expect(await measureBacklog(pairingDeps(), SWEEP_SHARDS, 1000)).toEqual({
      count: 0,
      capped: false,
      oldestDueAgeSeconds: 0,
    });
    // 600 intents written and cleared through moto: well under a minute alone, longer on a loaded machine.
  }, 120_000);
});
