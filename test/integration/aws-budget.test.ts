import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/adapters/config.ts";
import { createPairingDeps, setPairingDeps } from "../../functions/adapters/container.ts";
import { budgetKey, DynamoBudgetCells } from "../../functions/adapters/dynamo/budget-cells.ts";
import { m } from "../../functions/adapters/dynamo/items.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { BUDGET_SHARDS } from "../../functions/core/aws-budget.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import { budgetCellsContract } from "../support/budget-contract.ts";
import { credentialsPath, registerDevice } from "../support/device.ts";
import { withFaults } from "../support/fault-proxy.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether } from "../support/tether.ts";

budgetCellsContract(
  "DynamoDB (moto)",
  () => new DynamoBudgetCells(testBed().clients.dynamo, testBed().env.tableName),
);

/**
 * The account's AWS request budget (core/aws-budget.ts) in front of issuance, with its cells in the table: over
 * it, a device is answered 429 before Tether calls Private CA or IoT at all.
 */
describe("issuance admitted against the account's AWS request budget", () => {
  let tether: LocalTether;
  beforeAll(async () => {
    // One issuance per cell per 4,000 s: the four cells admit four, then the budget refuses.
    tether = await startLocalTether({ budget: { issuance: 0.001, sweep: null, burstSeconds: 1 } });
  });
  afterAll(async () => tether.close());

  it("answers 429 with a spread Retry-After before any Private CA or IoT call, and gives the slot back", async () => {
    const realm = await tether.createRealm("quota");
    const faulty = withFaults(testBed().clients, []);
    setPairingDeps(createPairingDeps(loadConfig(), faulty, tether.clock));
    const devices: { deviceId: string; secret: string }[] = [];
    for (let i = 0; i < 7; i++) {
      const deviceId = randomDeviceId();
      devices.push({ deviceId, secret: await registerDevice(tether, realm, deviceId) });
    }
    const refused: { deviceId: string; secret: string; retryAfter: number }[] = [];
    for (const d of devices) {
      faulty.calls.length = 0;
      const { csrPem } = await generateKeyAndCsr({ subject: `CN=${realm.name}/${d.deviceId}` });
      const answer = await tether.request("POST", credentialsPath(realm.name, d.deviceId), {
        token: d.secret,
        body: { data: { csr: csrPem } },
      });
      if (answer.status === 201) {
        expect(faulty.calls).toContain("IssueCertificateCommand");
        continue;
      }
      expect([answer.status, answer.body]).toEqual([429, { errors: { detail: "Too many requests" } }]);
      // Only the table was touched: the device's slot, the budget's cells, the slot given back.
      expect(faulty.calls.filter((c) => !/Item/.test(c))).toEqual([]);
      refused.push({ ...d, retryAfter: Number(answer.headers.get("retry-after")) });
    }
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const [i, r] of refused.entries()) {
      // Its turn in the queue (a turn every 4,444 s per cell), or the moment the admission bucket has room. Cells are
      // picked at random, so the i-th refused device may queue behind all i before it on one cell (3 on one cell
      // happens about one run in 16), never deeper.
      expect(r.retryAfter).toBeGreaterThan(0);
      expect(r.retryAfter).toBeLessThanOrEqual((i + 1) * 4_445);
    }
    // The slot went back, with the turn: the device comes back when told and is admitted (its turn kept while the
    // admission bucket is full for the moment).
    const [late] = refused;
    const { csrPem } = await generateKeyAndCsr({ subject: `CN=${realm.name}/${late?.deviceId}` });
    let wait = late?.retryAfter ?? 0;
    for (let attempt = 0; ; attempt++) {
      tether.clock.advance(wait * 1000);
      const again = await tether.request("POST", credentialsPath(realm.name, late?.deviceId ?? ""), {
        token: late?.secret ?? "",
        body: { data: { csr: csrPem } },
      });
      if (again.status === 201) break;
      expect(again.status).toBe(429);
      expect(attempt).toBeLessThan(3);
      wait = Number(again.headers.get("retry-after"));
    }

    // The cells are items of the table, one per shard, each a GCRA time and nothing else an index could pick up.
    const { dynamo } = testBed().clients;
    const cells = await Promise.all(
      // The admission bucket's cells, then the queue's.
      Array.from({ length: 2 * BUDGET_SHARDS }, (_, shard) =>
        dynamo.send(
          new GetItemCommand({ TableName: testBed().env.tableName, Key: m(budgetKey("issuance", shard)) }),
        ),
      ),
    );
    for (const cell of cells.filter((c) => c.Item)) {
      expect(Object.keys(unmarshall(cell.Item ?? {})).sort()).toEqual(["pk", "sk", "tat"]);
    }
  });
});
