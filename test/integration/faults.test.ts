import { X509Certificate } from "node:crypto";
import { ListCertificatesCommand } from "@aws-sdk/client-iot";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/adapters/config.ts";
import { createPairingDeps, pairingDeps, setPairingDeps } from "../../functions/adapters/container.ts";
import { SWEEP_SHARDS } from "../../functions/adapters/table-schema.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import { INTENT_DEADLINE_MS } from "../../functions/core/use-cases/issue-credentials.ts";
import { REALM_PURGE_DELAY_MS } from "../../functions/core/use-cases/realms.ts";
import { boundedRun, sweep } from "../../functions/core/use-cases/sweep.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import { credentialsPath, devicePath, pairDevice, registerDevice } from "../support/device.ts";
import { awsError, type Fault, withFaults } from "../support/fault-proxy.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

describe("faults, backpressure and concurrency", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let orphansFound = 0;
  const inject = (faults: Fault[]) => {
    const faulty = withFaults(testBed().clients, faults);
    setPairingDeps(createPairingDeps(loadConfig(), faulty, tether.clock));
    return faulty;
  };
  const csrFor = async (deviceId: string) =>
    (await generateKeyAndCsr({ subject: `CN=${realm.name}/${deviceId}` })).csrPem;
  const credentials = async (deviceId: string, secret: string) =>
    tether.request("POST", credentialsPath(realm.name, deviceId), {
      token: secret,
      body: { data: { csr: await csrFor(deviceId) } },
    });

  /** IoT certificates that are ACTIVE but that no device record knows: what must never exist. */
  async function activeOrphans(): Promise<string[]> {
    const listed = await testBed().clients.iot.send(new ListCertificatesCommand({ pageSize: 250 }));
    const known = new Set<string>();
    const store = pairingDeps().store;
    for (const name of ["faults"]) {
      let from: string | undefined;
      do {
        const page = await store.listDevices(name, 100, from);
        for (const d of page.devices) {
          for (const c of await store.listCertificates(name, d.deviceId)) known.add(c.iotCertificateId);
        }
        from = page.next;
      } while (from);
    }
    const orphans = (listed.certificates ?? [])
      .filter((c) => c.status === "ACTIVE" && !known.has(c.certificateId ?? ""))
      .map((c) => c.certificateId ?? "");
    orphansFound += orphans.length;
    return orphans;
  }

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("faults");
  });
  afterEach(() => setPairingDeps(createPairingDeps(loadConfig(), testBed().clients, tether.clock)));
  afterAll(async () => {
    console.info(`faults: ACTIVE orphans found across the suite: ${orphansFound}`);
    await tether.close();
  });

  describe("a failure at each AWS call of issuance leaves nothing behind, and the retry converges", () => {
    it.each([
      "UpdateItemCommand",
      "GetItemCommand",
      "IssueCertificateCommand",
      "PutItemCommand",
      "QueryCommand",
      "GetCertificateCommand",
      "RegisterCertificateWithoutCACommand",
      "AttachPolicyCommand",
      "AttachThingPrincipalCommand",
      "TransactWriteItemsCommand",
    ])("%s", async (command) => {
      const deviceId = randomDeviceId();
      const secret = await registerDevice(tether, realm, deviceId);
      inject([{ command, times: 1 }]);
      const failed = await credentials(deviceId, secret);
      expect(failed.status).toBeGreaterThanOrEqual(500);
      expect(failed.body.errors).toBeDefined();
      expect(await activeOrphans()).toEqual([]);
      const retried = await credentials(deviceId, secret);
      expect(retried.status).toBe(201);
      const records = await pairingDeps().store.listCertificates(realm.name, deviceId);
      expect(records.filter((r) => r.state === "current")).toHaveLength(1);
      expect(await activeOrphans()).toEqual([]);
    });
  });

  it.each(["CreateThingCommand", "TransactWriteItemsCommand", "GetItemCommand"])(
    "registration survives a failure in %s: the retry gives exactly one working secret",
    async (command) => {
      const deviceId = randomDeviceId();
      inject([{ command, times: 1 }]);
      const token = await realm.jwt();
      const first = await tether.request("POST", `/pairing/v1/${realm.name}/agent/devices`, {
        token,
        body: { data: { hw_id: deviceId } },
      });
      expect(first.status).toBeGreaterThanOrEqual(500);
      // Nothing half-written: no device without its thing, and none counted against the realm.
      const shown = await tether.request("GET", `/appengine/v1/${realm.name}/devices/${deviceId}`, {
        token: await realm.jwt(),
      });
      expect(shown.status).toBe(404);
      const second = await tether.request("POST", `/pairing/v1/${realm.name}/agent/devices`, {
        token,
        body: { data: { hw_id: deviceId } },
      });
      expect(second.status).toBe(201);
      const info = await tether.request("GET", devicePath(realm.name, deviceId), {
        token: second.body.data.credentials_secret,
      });
      expect(info.status).toBe(200);
    },
  );

  it.each(["UpdateCertificateCommand", "TransactWriteItemsCommand"])(
    "inhibit with revoke survives a failure in %s: the retry leaves the certificate INACTIVE and revoked",
    async (command) => {
      const d = await pairDevice(tether, realm, randomDeviceId());
      inject([{ command, times: 1 }]);
      const patch = async () =>
        tether.request("PATCH", `/appengine/v1/${realm.name}/devices/${d.deviceId}`, {
          token: await realm.jwt(),
          body: { data: { credentials_inhibited: true, revoke_credentials: true } },
        });
      expect((await patch()).status).toBeGreaterThanOrEqual(500);
      expect((await patch()).status).toBe(200);
      const verified = await tether.request("POST", `${credentialsPath(realm.name, d.deviceId)}/verify`, {
        token: d.secret,
        body: { data: { client_crt: d.certPem } },
      });
      expect(verified.body.data.cause).toBe("REVOKED");
      const status = await testBed().clients.iot.send(new ListCertificatesCommand({}));
      const id = iotCertificateId(new X509Certificate(d.certPem).raw);
      expect(status.certificates?.find((c) => c.certificateId === id)?.status).toBe("INACTIVE");
    },
  );

  it.each(["DeleteCertificateCommand", "RevokeCertificateCommand", "DetachThingPrincipalCommand"])(
    "the sweeper survives a failure in %s: the next run finishes; nothing is ACTIVE",
    async (command) => {
      const d = await pairDevice(tether, realm, randomDeviceId());
      await tether.request("PATCH", `/appengine/v1/${realm.name}/devices/${d.deviceId}`, {
        token: await realm.jwt(),
        body: { data: { credentials_inhibited: true, revoke_credentials: true } },
      });
      const faulty = withFaults(testBed().clients, [{ command, times: 1 }]);
      const deps = createPairingDeps(loadConfig(), faulty, tether.clock);
      const first = await sweep(deps, boundedRun(SWEEP_SHARDS, 100));
      expect(first.outcomes.failed).toBeGreaterThanOrEqual(1);
      const second = await sweep(deps, boundedRun(SWEEP_SHARDS, 100));
      expect(second.outcomes.failed).toBe(0);
      expect((await sweep(deps, boundedRun(SWEEP_SHARDS, 100))).found).toBe(0);
      expect(await activeOrphans()).toEqual([]);
    },
  );

  it.each([
    "ListThingPrincipalsCommand",
    "DeleteThingCommand",
    "BatchWriteItemCommand",
    "RevokeCertificateCommand",
    "DeleteCertificateCommand",
  ])(
    "a deleted realm's purge survives a failure in %s: the next runs finish; nothing is ACTIVE",
    async (command) => {
      const name = `purge_${command.toLowerCase().replace(/command$/, "")}`;
      const doomed = await tether.createRealm(name);
      await pairDevice(tether, doomed, randomDeviceId());
      await pairDevice(tether, doomed, randomDeviceId());
      expect(
        (await tether.request("DELETE", `/housekeeping/v1/realms/${name}`, { token: tether.adminToken }))
          .status,
      ).toBe(204);
      const faulty = withFaults(testBed().clients, [{ command, times: 1 }]);
      const later = { now: () => new Date(tether.clock.now().getTime() + REALM_PURGE_DELAY_MS + 1_000) };
      const deps = createPairingDeps(loadConfig(), faulty, later);
      const run = () => sweep(deps, boundedRun(SWEEP_SHARDS, 100));
      expect((await run()).outcomes.failed).toBe(1);
      let removed = 0;
      for (let i = 0; i < 3 && removed === 0; i++) {
        const report = await run();
        expect(report.outcomes.failed).toBe(0);
        removed = report.outcomes.realm_removed;
      }
      expect(removed).toBe(1);
      expect(await activeOrphans()).toEqual([]);
    },
  );

  describe("throttling at every pair of issuance and compensation steps: 429/503, never 500, nothing left ACTIVE", () => {
    const STEPS = [
      "IssueCertificateCommand",
      "GetCertificateCommand",
      "RegisterCertificateWithoutCACommand",
      "AttachPolicyCommand",
      "AttachThingPrincipalCommand",
      "TransactWriteItemsCommand",
      // The compensation's own calls (removing a registered certificate from IoT).
      "DescribeCertificateCommand",
      "UpdateCertificateCommand",
      "DetachPolicyCommand",
      "DetachThingPrincipalCommand",
      "DeleteCertificateCommand",
    ];
    const pairs = STEPS.flatMap((a, i) => STEPS.slice(i).map((b) => [a, b] as const));
    const statuses = new Map<number, number>();
    let leftForTheSweeper = 0;
    afterAll(() => {
      console.info(
        `throttle pairs: ${pairs.length} cases, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ACTIVE certificates left for the sweeper ${leftForTheSweeper}`,
      );
    });

    /** Every ACTIVE IoT certificate's id (the registry is paged: 250 a page). */
    async function activeIds(): Promise<Set<string>> {
      const ids = new Set<string>();
      let marker: string | undefined;
      do {
        const page = await testBed().clients.iot.send(
          new ListCertificatesCommand({ pageSize: 250, ...(marker ? { marker } : {}) }),
        );
        for (const c of page.certificates ?? []) if (c.status === "ACTIVE") ids.add(c.certificateId ?? "");
        marker = page.nextMarker;
      } while (marker);
      return ids;
    }
    /** ACTIVE certificates made since `before` that the device's records do not know. */
    async function orphansSince(before: Set<string>, deviceId: string): Promise<string[]> {
      const known = new Set(
        (await pairingDeps().store.listCertificates(realm.name, deviceId)).map((c) => c.iotCertificateId),
      );
      return [...(await activeIds())].filter((id) => !before.has(id) && !known.has(id));
    }

    it.each(pairs)("%s + %s", async (a, b) => {
      const deviceId = randomDeviceId();
      const secret = await registerDevice(tether, realm, deviceId);
      const before = await activeIds();
      // Throttled for the whole request, the compensation's retries included.
      const throttle = () => awsError("ThrottlingException", 400);
      inject([
        { command: a, times: 100, error: throttle },
        ...(b === a ? [] : [{ command: b, times: 100, error: throttle }]),
      ]);
      const answer = await credentials(deviceId, secret);
      setPairingDeps(createPairingDeps(loadConfig(), testBed().clients, tether.clock));
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      expect([201, 429, 503]).toContain(answer.status);
      if (answer.status !== 201) expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
      // Whatever the compensation could not remove is found by the sweeper once its intent is due.
      leftForTheSweeper += (await orphansSince(before, deviceId)).length;
      tether.clock.advance(INTENT_DEADLINE_MS + 1_000);
      await sweep(pairingDeps(), boundedRun(SWEEP_SHARDS, 1_000));
      expect(await orphansSince(before, deviceId)).toEqual([]);
      expect((await credentials(deviceId, secret)).status).toBe(201);
    });
  });

  describe("backpressure", () => {
    it.each([
      ["IssueCertificateCommand", "ThrottlingException", 400, 429],
      ["RegisterCertificateWithoutCACommand", "ThrottlingException", 400, 429],
      ["UpdateItemCommand", "ProvisionedThroughputExceededException", 400, 429],
      ["IssueCertificateCommand", "ServiceUnavailableException", 503, 503],
      ["RegisterCertificateWithoutCACommand", "InternalFailureException", 500, 503],
    ])("%s answering %s becomes %s… → %i with Retry-After", async (command, name, awsStatus, expected) => {
      const deviceId = randomDeviceId();
      const secret = await registerDevice(tether, realm, deviceId);
      inject([{ command, times: 1, error: () => awsError(name, awsStatus) }]);
      const answer = await credentials(deviceId, secret);
      expect(answer.status).toBe(expected);
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(answer.body).toEqual({
        errors: { detail: expected === 429 ? "Too many requests" : "Service unavailable" },
      });
      expect(await activeOrphans()).toEqual([]);
      expect((await credentials(deviceId, secret)).status).toBe(201);
    });
  });

  describe("concurrency", () => {
    it("20 parallel credentials requests for one device: one at a time is served, the rest told to retry, none fails", async () => {
      const d = await pairDevice(tether, realm, randomDeviceId());
      const answers = await Promise.all(Array.from({ length: 20 }, () => credentials(d.deviceId, d.secret)));
      const issued = answers.filter((a) => a.status === 201).length;
      expect(issued).toBeGreaterThanOrEqual(1);
      for (const a of answers.filter((x) => x.status !== 201)) {
        expect(a.status).toBe(429);
        expect(Number(a.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      const records = await pairingDeps().store.listCertificates(realm.name, d.deviceId);
      expect(records.filter((r) => r.state === "current")).toHaveLength(1);
      expect(records.filter((r) => r.state === "superseded")).toHaveLength(issued);
      const device = (await pairingDeps().store.getRealmAndDevice(realm.name, d.deviceId)).device;
      expect(records.find((r) => r.state === "current")?.serial).toBe(device?.currentSerial);
      expect(await activeOrphans()).toEqual([]);
    });

    it("20 parallel registrations of one id: exactly one secret works", async () => {
      const deviceId = randomDeviceId();
      const token = await realm.jwt();
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          tether.request("POST", `/pairing/v1/${realm.name}/agent/devices`, {
            token,
            body: { data: { hw_id: deviceId } },
          }),
        ),
      );
      const secrets = answers
        .filter((a) => a.status === 201)
        .map((a) => a.body.data.credentials_secret as string);
      expect(secrets.length).toBeGreaterThanOrEqual(1);
      const working = [];
      for (const secret of secrets) {
        if (
          (await tether.request("GET", devicePath(realm.name, deviceId), { token: secret })).status === 200
        ) {
          working.push(secret);
        }
      }
      expect(working).toHaveLength(1);
    });
  });
});
