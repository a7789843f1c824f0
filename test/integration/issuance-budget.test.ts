import { X509Certificate } from "node:crypto";
import { DescribeCertificateCommand } from "@aws-sdk/client-iot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/adapters/config.ts";
import { createPairingDeps, pairingDeps, setPairingDeps } from "../../functions/adapters/container.ts";
import { SWEEP_SHARDS } from "../../functions/adapters/table-schema.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import { boundedRun, sweep } from "../../functions/core/use-cases/sweep.ts";
import { runningFunction } from "../../local/function-context.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import { credentialsPath, registerDevice, verify } from "../support/device.ts";
import { awsError, withFaults } from "../support/fault-proxy.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether } from "../support/tether.ts";

/**
 * The per-device issuance budget and the cap on live certificates (README, Security): a device's secret can
 * mint certificates only as fast as its realm allows, each refused before Private CA bills anything, and only a
 * few of its certificates are ever live at once.
 */
describe("issuance admission: one at a time, a budget per device, a cap on live certificates", () => {
  let tether: LocalTether;
  beforeAll(async () => {
    tether = await startLocalTether();
  });
  afterEach(() => setPairingDeps(createPairingDeps(loadConfig(), testBed().clients, tether.clock)));
  afterAll(async () => tether.close());

  const csrOf = async (realm: string, deviceId: string) =>
    (await generateKeyAndCsr({ subject: `CN=${realm}/${deviceId}` })).csrPem;
  const ask = async (realm: string, deviceId: string, secret: string, csr?: string) =>
    tether.request("POST", credentialsPath(realm, deviceId), {
      token: secret,
      body: { data: { csr: csr ?? (await csrOf(realm, deviceId)) } },
    });
  const observe = () => {
    const faulty = withFaults(testBed().clients, []);
    setPairingDeps(createPairingDeps(loadConfig(), faulty, tether.clock));
    return faulty;
  };

  it("answers 429 with a Retry-After from the budget before any Private CA call, and admits again once it refills", async () => {
    const realm = await tether.createRealm("budget", { issuance_budget_per_hour: 2 });
    const deviceId = randomDeviceId();
    const secret = await registerDevice(tether, realm, deviceId);
    expect((await ask(realm.name, deviceId, secret)).status).toBe(201);
    expect((await ask(realm.name, deviceId, secret)).status).toBe(201);

    const calls = observe().calls;
    const refused = await ask(realm.name, deviceId, secret);
    expect([refused.status, refused.body]).toEqual([
      429,
      { errors: { detail: "Certificate issuance budget exceeded" } },
    ]);
    // Two an hour: the next one half an hour after the burst, stretched by at most a tenth per device.
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1800);
    expect(retryAfter).toBeLessThanOrEqual(1980);
    expect(calls.filter((c) => /Certificate|Thing|Policy/.test(c))).toEqual([]);

    tether.clock.advance(1800 * 1000);
    expect((await ask(realm.name, deviceId, secret)).status).toBe(201);
    expect((await ask(realm.name, deviceId, secret)).status).toBe(429);
  });

  it("does not count attempts Private CA throttled, nor anyone's without the device's secret", async () => {
    const realm = await tether.createRealm("frugal", { issuance_budget_per_hour: 1 });
    const deviceId = randomDeviceId();
    const secret = await registerDevice(tether, realm, deviceId);
    const faulty = withFaults(testBed().clients, [
      { command: "IssueCertificateCommand", times: 3, error: () => awsError("ThrottlingException", 400) },
    ]);
    setPairingDeps(createPairingDeps(loadConfig(), faulty, tether.clock));
    for (let i = 0; i < 3; i++) {
      const throttled = await ask(realm.name, deviceId, secret);
      expect([throttled.status, throttled.body.errors.detail]).toEqual([429, "Too many requests"]);
    }
    // Wrong secrets neither spend the budget nor hold the slot.
    const otherSecret = await registerDevice(tether, realm, randomDeviceId());
    for (let i = 0; i < 3; i++) expect((await ask(realm.name, deviceId, otherSecret)).status).toBe(403);
    expect((await ask(realm.name, deviceId, secret)).status).toBe(201);
    expect((await ask(realm.name, deviceId, secret)).status).toBe(429);
  });

  it("admits the repeat of the last billed issuance over budget: a replay is free", async () => {
    const realm = await tether.createRealm("replays", { issuance_budget_per_hour: 1 });
    const deviceId = randomDeviceId();
    const secret = await registerDevice(tether, realm, deviceId);
    // Private CA answers a repeated idempotency token with the same certificate; moto ignores the token, so
    // the CA adapter remembers it here the way Private CA does.
    const real = pairingDeps();
    const byKey = new Map<string, Promise<string>>();
    setPairingDeps({
      ...real,
      ca: Object.assign(Object.create(real.ca), {
        requestCertificate: (request: Parameters<typeof real.ca.requestCertificate>[0]) => {
          const known = byKey.get(request.idempotencyKey) ?? real.ca.requestCertificate(request);
          byKey.set(request.idempotencyKey, known);
          return known;
        },
      }),
    });
    const csr = await csrOf(realm.name, deviceId);
    const first = await ask(realm.name, deviceId, secret, csr);
    expect(first.status).toBe(201);
    const again = await ask(realm.name, deviceId, secret, csr);
    expect(again.status).toBe(201);
    expect(again.body.data.client_crt).toBe(first.body.data.client_crt);
    // A new CSR is a new, billed certificate: over budget.
    expect((await ask(realm.name, deviceId, secret)).status).toBe(429);
  });

  it("serves one issuance per device at a time: parallel requests get 429 and a short Retry-After, never a 5xx", async () => {
    const realm = await tether.createRealm("burst");
    const deviceId = randomDeviceId();
    const secret = await registerDevice(tether, realm, deviceId);
    const answers = await Promise.all(Array.from({ length: 10 }, () => ask(realm.name, deviceId, secret)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 201 || s === 429)).toBe(true);
    for (const busy of answers.filter((a) => a.status === 429)) {
      expect(busy.body.errors.detail).toMatch(/in progress|budget/);
      expect(Number(busy.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    const records = await pairingDeps().store.listCertificates(realm.name, deviceId);
    expect(records.filter((r) => r.state === "current")).toHaveLength(1);
    expect(records).toHaveLength(statuses.filter((s) => s === 201).length);
  });

  it("cuts the grace of the oldest superseded certificate beyond the realm's cap; the sweeper takes it out", async () => {
    const realm = await tether.createRealm("capped", {
      max_live_certificates: 2,
      issuance_budget_per_hour: 10,
    });
    const deviceId = randomDeviceId();
    const secret = await registerDevice(tether, realm, deviceId);
    const pems: string[] = [];
    for (let i = 0; i < 3; i++) {
      const issued = await ask(realm.name, deviceId, secret);
      expect(issued.status).toBe(201);
      pems.push(issued.body.data.client_crt);
    }
    const [oldest, middle, newest] = pems as [string, string, string];
    const device = { deviceId, secret };
    expect((await verify(tether, realm.name, device, oldest)).body.data).toMatchObject({ valid: false });
    expect((await verify(tether, realm.name, device, middle)).body.data).toMatchObject({ valid: true });
    expect((await verify(tether, realm.name, device, newest)).body.data).toMatchObject({ valid: true });

    const report = await runningFunction.run("sweeper", () =>
      sweep(pairingDeps(), boundedRun(SWEEP_SHARDS, 100)),
    );
    expect(report.outcomes.superseded).toBe(1);
    const status = async (pem: string) =>
      testBed()
        .clients.iot.send(
          new DescribeCertificateCommand({ certificateId: iotCertificateId(new X509Certificate(pem).raw) }),
        )
        .then(
          (out) => out.certificateDescription?.status,
          () => "GONE",
        );
    expect(await status(oldest)).toBe("GONE");
    expect(await status(middle)).toBe("ACTIVE");
    expect(await status(newest)).toBe("ACTIVE");
  });
});
