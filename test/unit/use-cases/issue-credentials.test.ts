import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  AwsBudgetExceededError,
  DeviceNotFoundError,
  ForbiddenError,
  IssuanceBudgetExceededError,
  IssuanceInProgressError,
  MalformedRequestError,
  ValidationError,
} from "../../../functions/core/errors.ts";
import { patchDevice } from "../../../functions/core/use-cases/device-status.ts";
import { issueCredentials } from "../../../functions/core/use-cases/issue-credentials.ts";
import { memoryFleet } from "../../support/memory-fleet.ts";

describe("issueCredentials on the in-memory adapters", () => {
  it("issues a certificate for the device's CN, registers it ACTIVE and attached in IoT, and records it", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    const issued = await fleet.pair(deviceId, secret);
    const certificate = new X509Certificate(issued.certificatePem);
    expect(certificate.subject).toBe(`CN=${fleet.realm}/${deviceId}`);
    expect(issued.record.state).toBe("current");
    expect(fleet.transport.active(fleet.realm, deviceId).map((c) => c.id)).toEqual([
      issued.record.iotCertificateId,
    ]);
    const { device } = await fleet.store.getRealmAndDevice(fleet.realm, deviceId);
    expect(device).toMatchObject({
      currentSerial: issued.record.serial,
      lastCredentialsRequestIp: "192.0.2.7",
    });
    expect(device?.issuance?.lease).toBeUndefined();
    expect((await fleet.store.listHoldings(fleet.realm, deviceId)).intents).toEqual([]);
    expect(Date.parse(issued.renewAfter.toISOString())).toBeGreaterThan(fleet.clock.now().getTime());
    expect(fleet.ca.requests).toBe(1);
  });

  it("supersedes the previous certificate with the realm's grace, and cuts grace beyond the live cap", async () => {
    const fleet = await memoryFleet({
      grace_seconds: 600,
      max_live_certificates: 2,
      issuance_budget_per_hour: 100,
    });
    const { deviceId, secret } = await fleet.register();
    const first = await fleet.pair(deviceId, secret);
    fleet.clock.advance(1000);
    const second = await fleet.pair(deviceId, secret);
    expect(await fleet.store.getCertificate(fleet.realm, deviceId, first.record.serial)).toMatchObject({
      state: "superseded",
      graceUntil: new Date(fleet.clock.now().getTime() + 600_000).toISOString(),
    });
    fleet.clock.advance(1000);
    const third = await fleet.pair(deviceId, secret);
    expect(third.graceCuts).toBe(1);
    expect((await fleet.store.getCertificate(fleet.realm, deviceId, first.record.serial))?.graceUntil).toBe(
      fleet.clock.now().toISOString(),
    );
    expect(second.record.serial).not.toBe(first.record.serial);
  });

  it("answers a replay of the same CSR with the certificate already recorded, without billing again", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    const csr = await fleet.csr(deviceId);
    const first = await fleet.pair(deviceId, secret, csr);
    const replay = await fleet.pair(deviceId, secret, csr);
    expect(replay.record.serial).toBe(first.record.serial);
    expect(fleet.ca.requests).toBe(1);
    expect((await fleet.store.listCertificates(fleet.realm, deviceId)).length).toBe(1);
  });

  it("refuses over the device's hourly budget before any CA call, then admits again as it refills", async () => {
    const fleet = await memoryFleet({ issuance_budget_per_hour: 2 });
    const { deviceId, secret } = await fleet.register();
    await fleet.pair(deviceId, secret);
    await fleet.pair(deviceId, secret);
    const requests = fleet.ca.requests;
    const refused = await fleet.pair(deviceId, secret).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IssuanceBudgetExceededError);
    expect((refused as IssuanceBudgetExceededError).retryAfterSeconds).toBeGreaterThan(0);
    expect(fleet.ca.requests).toBe(requests);
    fleet.clock.advance(3_600_000);
    await expect(fleet.pair(deviceId, secret)).resolves.toBeDefined();
  });

  it("refuses over the account's AWS budget before any CA or IoT call, gives the slot back, and admits again later", async () => {
    // One issuance per cell per 4,000 s: four cells, so at most four are admitted before the budget refuses.
    const fleet = await memoryFleet({}, "unit", { issuance: 0.001, sweep: null, burstSeconds: 1 });
    const devices = await Promise.all(Array.from({ length: 6 }, () => fleet.register()));
    const outcomes: unknown[] = [];
    for (const d of devices) outcomes.push(await fleet.pair(d.deviceId, d.secret).catch((e: unknown) => e));
    const refused = outcomes.filter((o): o is AwsBudgetExceededError => o instanceof AwsBudgetExceededError);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(outcomes.length - refused.length).toBeLessThanOrEqual(4);
    // Nothing reached AWS for the refused ones: no CA request, no IoT certificate, no intent, no slot held.
    expect(fleet.ca.requests).toBe(outcomes.length - refused.length);
    for (const [i, outcome] of outcomes.entries()) {
      if (!(outcome instanceof AwsBudgetExceededError)) continue;
      const d = devices[i] as (typeof devices)[number];
      expect(fleet.transport.active(fleet.realm, d.deviceId)).toEqual([]);
      expect((await fleet.store.listHoldings(fleet.realm, d.deviceId)).intents).toEqual([]);
      const { device } = await fleet.store.getRealmAndDevice(fleet.realm, d.deviceId);
      expect(device?.issuance?.lease).toBeUndefined();
      // Told to come back at its turn in the queue (one every 4,444 s per cell), kept on its record.
      expect(outcome.retryAfterSeconds).toBeGreaterThan(0);
      expect(outcome.retryAfterSeconds).toBeLessThanOrEqual(2 * 4_445);
      expect(device?.issuance?.turnAt).toBeDefined();
    }
    const i = outcomes.findIndex((o) => o instanceof AwsBudgetExceededError);
    const late = devices[i] as (typeof devices)[number];
    let wait = (outcomes[i] as AwsBudgetExceededError).retryAfterSeconds;
    for (let attempt = 0; ; attempt++) {
      fleet.clock.advance(wait * 1000);
      const outcome = await fleet.pair(late.deviceId, late.secret).catch((e: unknown) => e);
      if (!(outcome instanceof AwsBudgetExceededError)) {
        expect(outcome).toHaveProperty("certificatePem");
        break;
      }
      expect(attempt).toBeLessThan(3);
      wait = outcome.retryAfterSeconds;
    }
  });

  it("queues devices the account's budget cannot admit now: one turn each, kept, used once", async () => {
    // Four cells of one issuance per 10 s each: a burst of 4, then a turn every 2.5 s across the lane.
    const fleet = await memoryFleet({ issuance_budget_per_hour: 100 }, "unit", {
      issuance: 0.4,
      sweep: null,
      burstSeconds: 10,
    });
    const devices = await Promise.all(Array.from({ length: 12 }, () => fleet.register()));
    const first: unknown[] = [];
    for (const d of devices) first.push(await fleet.pair(d.deviceId, d.secret).catch((e: unknown) => e));
    const waiting = devices.filter((_, i) => first[i] instanceof AwsBudgetExceededError);
    expect(waiting.length).toBeGreaterThanOrEqual(8);
    const waits = first.filter((o): o is AwsBudgetExceededError => o instanceof AwsBudgetExceededError);
    // Each has its own turn (a cell's turns are 10 s apart), within the hour the queue holds.
    expect(Math.max(...waits.map((w) => w.retryAfterSeconds))).toBeLessThanOrEqual(3_600);
    for (const d of waiting) {
      const { device } = await fleet.store.getRealmAndDevice(fleet.realm, d.deviceId);
      expect(device?.issuance?.turnAt).toBeGreaterThanOrEqual(fleet.clock.now().getTime());
      expect(device?.issuance?.lease).toBeUndefined();
    }
    const writes = fleet.budgetCells.writes;
    // Coming back early changes nothing: told the same time again, and the budget is not asked.
    const longest = Math.max(...waits.map((w) => w.retryAfterSeconds));
    const last = waiting[waits.findIndex((w) => w.retryAfterSeconds === longest)];
    const early = await fleet.pair(last?.deviceId ?? "", last?.secret ?? "").catch((e: unknown) => e);
    expect(early).toBeInstanceOf(AwsBudgetExceededError);
    expect(fleet.budgetCells.writes).toBe(writes);
    // Each comes back at its turn and pairs. Its calls still pass the admission bucket: one that finds it full
    // for the moment is told to come back in seconds, and keeps its turn (it does not queue again).
    const start = fleet.clock.now().getTime();
    const order = waiting
      .map((d, i) => ({ d, at: start + (waits[i]?.retryAfterSeconds ?? 0) * 1000 }))
      .sort((a, b) => a.at - b.at);
    for (const { d, at } of order) {
      fleet.clock.set(new Date(Math.max(at, fleet.clock.now().getTime())));
      const { device: before } = await fleet.store.getRealmAndDevice(fleet.realm, d.deviceId);
      for (let attempt = 0; ; attempt++) {
        const outcome = await fleet.pair(d.deviceId, d.secret).catch((e: unknown) => e);
        if (!(outcome instanceof AwsBudgetExceededError)) break;
        expect(attempt).toBeLessThan(5);
        expect(outcome.retryAfterSeconds).toBeLessThanOrEqual(21);
        const { device } = await fleet.store.getRealmAndDevice(fleet.realm, d.deviceId);
        expect(device?.issuance?.turnAt).toBe(before?.issuance?.turnAt);
        fleet.clock.advance(outcome.retryAfterSeconds * 1000);
      }
    }
    expect(fleet.budgetCells.writes).toBeGreaterThanOrEqual(writes + waiting.length);
    expect(fleet.ca.requests).toBe(devices.length);
    for (const d of waiting) {
      const { device } = await fleet.store.getRealmAndDevice(fleet.realm, d.deviceId);
      expect(device?.issuance?.turnAt).toBeUndefined();
    }
  });

  it("tells a device to come back in an hour or two when even the queue is full, and keeps no turn for it", async () => {
    // One turn every 12.3 h per cell: a day's queue holds one ahead of each cell's admission.
    const fleet = await memoryFleet({ issuance_budget_per_hour: 100 }, "unit", {
      issuance: 0.0001,
      sweep: null,
      burstSeconds: 1,
    });
    const devices = await Promise.all(Array.from({ length: 16 }, () => fleet.register()));
    const outcomes: unknown[] = [];
    for (const d of devices) outcomes.push(await fleet.pair(d.deviceId, d.secret).catch((e: unknown) => e));
    const turnless: number[] = [];
    for (const [i, d] of devices.entries()) {
      const outcome = outcomes[i];
      if (!(outcome instanceof AwsBudgetExceededError)) continue;
      const { device } = await fleet.store.getRealmAndDevice(fleet.realm, d.deviceId);
      if (device?.issuance?.turnAt === undefined) turnless.push(outcome.retryAfterSeconds);
    }
    expect(turnless.length).toBeGreaterThan(0);
    for (const wait of turnless) {
      expect(wait).toBeGreaterThanOrEqual(3_600);
      expect(wait).toBeLessThanOrEqual(7_201);
    }
  });

  it("lets a turn lapse when the device does not come back in time, and charges the budget anew", async () => {
    const fleet = await memoryFleet({ issuance_budget_per_hour: 100 }, "unit", {
      issuance: 0.4,
      sweep: null,
      burstSeconds: 10,
    });
    const devices = await Promise.all(Array.from({ length: 8 }, () => fleet.register()));
    const outcomes: unknown[] = [];
    for (const d of devices) outcomes.push(await fleet.pair(d.deviceId, d.secret).catch((e: unknown) => e));
    const i = outcomes.findIndex((o) => o instanceof AwsBudgetExceededError);
    const late = devices[i] as (typeof devices)[number];
    const wait = (outcomes[i] as AwsBudgetExceededError).retryAfterSeconds;
    // Held for 10 minutes past its start; a day later it is gone, and the device queues again (its turn is now,
    // the queue being empty) before its calls pass the admission bucket: two writes.
    fleet.clock.advance((wait + 86_400) * 1000);
    const writes = fleet.budgetCells.writes;
    await fleet.pair(late.deviceId, late.secret);
    expect(fleet.budgetCells.writes).toBe(writes + 2);
  });

  it("admits one issuance per device at a time", async () => {
    const fleet = await memoryFleet({ issuance_budget_per_hour: 100 });
    const { deviceId, secret } = await fleet.register();
    const results = await Promise.allSettled([fleet.pair(deviceId, secret), fleet.pair(deviceId, secret)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(IssuanceInProgressError);
  });

  it("refuses a wrong secret, an unknown device and an inhibited device, with nothing billed", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    await expect(fleet.pair(deviceId, "wrong")).rejects.toBeInstanceOf(ForbiddenError);
    await expect(fleet.pair("AJInS0w3VpWpuOqkXhgZdA", secret)).rejects.toBeInstanceOf(DeviceNotFoundError);
    await patchDevice(fleet.deps, await fleet.agent(deviceId), { credentialsInhibited: true });
    await expect(fleet.pair(deviceId, secret)).rejects.toThrow(/inhibited/);
    expect(fleet.ca.requests).toBe(0);
  });

  it("refuses a CSR for another device's CN and a malformed body, after authenticating", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    const other = await fleet.register();
    await expect(fleet.pair(deviceId, secret, await fleet.csr(other.deviceId))).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      issueCredentials(
        fleet.deps,
        { ...fleet.credentials(deviceId, secret), protocol: "mqtt" },
        () => {
          throw new MalformedRequestError("Bad request");
        },
        fleet.meta(),
      ),
    ).rejects.toBeInstanceOf(MalformedRequestError);
    expect(fleet.ca.requests).toBe(0);
  });

  it("leaves nothing behind when IoT registration fails after the CA billed: the slot is charged, the intent stays for the sweeper", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    fleet.faults.fail("registerCertificate");
    await expect(fleet.pair(deviceId, secret)).rejects.toThrow(/registerCertificate failed/);
    const { device } = await fleet.store.getRealmAndDevice(fleet.realm, deviceId);
    expect(device?.currentSerial).toBeUndefined();
    expect(device?.issuance?.lease).toBeUndefined();
    expect(device?.issuance?.tat).toBeDefined();
    expect((await fleet.store.listHoldings(fleet.realm, deviceId)).intents).toHaveLength(1);
    expect(fleet.transport.certificates.size).toBe(0);
  });

  it("compensates a failed attach: the record is rolled back, the IoT certificate removed, the intent cleared", async () => {
    const fleet = await memoryFleet({ issuance_budget_per_hour: 100 });
    const { deviceId, secret } = await fleet.register();
    const first = await fleet.pair(deviceId, secret);
    fleet.faults.fail("attachCertificate");
    await expect(fleet.pair(deviceId, secret)).rejects.toThrow(/attachCertificate failed/);
    expect((await fleet.store.getRealmAndDevice(fleet.realm, deviceId)).device?.currentSerial).toBe(
      first.record.serial,
    );
    expect(
      (await fleet.store.listCertificates(fleet.realm, deviceId)).map((c) => [c.serial, c.state]),
    ).toEqual([[first.record.serial, "current"]]);
    expect([...fleet.transport.certificates.keys()]).toEqual([first.record.iotCertificateId]);
    expect((await fleet.store.listHoldings(fleet.realm, deviceId)).intents).toEqual([]);
  });

  it("keeps a trail when the compensation fails too: the intent carries the CA reference for the sweeper", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    fleet.faults.fail("attachCertificate");
    fleet.faults.fail("removeCertificate");
    await expect(fleet.pair(deviceId, secret)).rejects.toBeInstanceOf(AggregateError);
    const { intents } = await fleet.store.listHoldings(fleet.realm, deviceId);
    expect(intents).toHaveLength(1);
    expect(intents[0]?.certificateRef).toMatch(/^arn:aws:acm-pca:/);
    expect(
      (await fleet.store.getRealmAndDevice(fleet.realm, deviceId)).device?.firstCredentialsRequest,
    ).toBeUndefined();
  });

  it("charges nothing and leaves no intent when the CA refuses outright", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    fleet.faults.fail("requestCertificate");
    await expect(fleet.pair(deviceId, secret)).rejects.toThrow(/requestCertificate failed/);
    const { device } = await fleet.store.getRealmAndDevice(fleet.realm, deviceId);
    expect(device?.issuance?.tat).toBeUndefined();
    expect(device?.issuance?.lease).toBeUndefined();
    expect((await fleet.store.listHoldings(fleet.realm, deviceId)).intents).toEqual([]);
  });
});
