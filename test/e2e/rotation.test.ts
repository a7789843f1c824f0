import { X509Certificate } from "node:crypto";
import {
  DescribeCertificateCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  ListCertificatesCommand,
} from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pairingDeps } from "../../functions/adapters/container.ts";
import { SWEEP_SHARDS } from "../../functions/adapters/table-schema.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import type { PairingDeps } from "../../functions/core/pairing-deps.ts";
import type { TransportRegistry } from "../../functions/core/ports/transport-registry.ts";
import { boundedRun, sweep } from "../../functions/core/use-cases/sweep.ts";
import { runningFunction } from "../../local/function-context.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import {
  credentialsPath,
  devicePath,
  pairDevice,
  registerDevice,
  requestCertificate,
  verify,
} from "../support/device.ts";
import { connectDevice, endQuietly, waitForClose } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

const HOUR = 3600_000;

describe("rotation driven by expiry (with the broker)", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  const tls = (d: { certPem: string; keyPem: string }) => ({ caPem: testBed().env.caCertPem, ...d });
  const runSweep = (deps: PairingDeps = pairingDeps()) =>
    runningFunction.run("sweeper", () => sweep(deps, boundedRun(SWEEP_SHARDS, 100)));
  const iotStatus = async (certPem: string) => {
    const certificateId = iotCertificateId(new X509Certificate(certPem).raw);
    try {
      const out = await testBed().clients.iot.send(new DescribeCertificateCommand({ certificateId }));
      return out.certificateDescription?.status;
    } catch {
      return "GONE";
    }
  };
  const timeline = async (deviceId: string) =>
    (await pairingDeps().store.listEvents(realm.name, deviceId, 50)).map((e) => e.type).reverse();

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("rotation", { grace_seconds: 3600 });
  });
  afterAll(async () => tether.close());

  it("after renewal and grace, the old certificate is refused and REVOKED; the new one connects", async () => {
    const d = await pairDevice(tether, realm, randomDeviceId());
    const renewed = await requestCertificate(tether, realm.name, d.deviceId, d.secret);
    // Make before break: both work during the grace.
    const old = await connectDevice(testBed().brokerPort, d.cn, tls(d));
    await runSweep();
    expect(old.connected).toBe(true);

    tether.clock.advance(HOUR + 60_000);
    try {
      const report = await runSweep();
      expect(report.outcomes.superseded).toBe(1);
      await waitForClose(old, 5_000);
      await expect(connectDevice(testBed().brokerPort, d.cn, tls(d))).rejects.toThrow(/Not authorized/);
      expect(await iotStatus(d.certPem)).toBe("GONE");
      expect((await verify(tether, realm.name, d, d.certPem)).body.data).toMatchObject({
        valid: false,
        cause: "REVOKED",
      });
      const fresh = await connectDevice(
        testBed().brokerPort,
        d.cn,
        tls({ certPem: renewed.certPem, keyPem: renewed.keyPem }),
      );
      await endQuietly(fresh);
      expect(await timeline(d.deviceId)).toEqual(["registered", "issued", "issued", "superseded"]);
      // A second run finds nothing left to do: nothing is removed twice.
      expect((await runSweep()).found).toBe(0);
    } finally {
      await endQuietly(old);
      tether.clock.advance(-(HOUR + 60_000));
    }
  });

  it("after expiry and a sweep, the certificate is gone from IoT and EXPIRED; the secret alone gets a new one", async () => {
    const d = await pairDevice(tether, realm, randomDeviceId());
    const ahead = new X509Certificate(d.certPem).validToDate.getTime() - Date.now() + HOUR;
    tether.clock.advance(ahead);
    try {
      const report = await runSweep();
      expect(report.outcomes.expired).toBeGreaterThanOrEqual(1);
      expect(await iotStatus(d.certPem)).toBe("GONE");
      expect((await verify(tether, realm.name, d, d.certPem)).body.data).toMatchObject({
        valid: false,
        cause: "EXPIRED",
      });
      const info = await tether.request("GET", devicePath(realm.name, d.deviceId), { token: d.secret });
      expect(info.body.data.status).toBe("confirmed");
      const again = await requestCertificate(tether, realm.name, d.deviceId, d.secret);
      expect(await iotStatus(again.certPem)).toBe("ACTIVE");
      expect(await timeline(d.deviceId)).toContain("expired");
    } finally {
      tether.clock.advance(-ahead);
    }
  });

  it("inhibit with revoke: dropped now, REVOKED, 403 for credentials; the sweep removes it; un-inhibit issues again", async () => {
    const d = await pairDevice(tether, realm, randomDeviceId());
    const client = await connectDevice(testBed().brokerPort, d.cn, tls(d));
    const patch = async (data: unknown) =>
      tether.request("PATCH", `/appengine/v1/${realm.name}/devices/${d.deviceId}`, {
        token: await realm.jwt(),
        body: { data },
      });
    try {
      expect((await patch({ credentials_inhibited: true, revoke_credentials: true })).status).toBe(200);
      await waitForClose(client, 5_000);
    } finally {
      await endQuietly(client);
    }
    await expect(connectDevice(testBed().brokerPort, d.cn, tls(d))).rejects.toThrow(/Not authorized/);
    expect((await verify(tether, realm.name, d, d.certPem)).body.data.cause).toBe("REVOKED");
    await expect(requestCertificate(tether, realm.name, d.deviceId, d.secret)).rejects.toThrow(/403/);
    expect((await runSweep()).outcomes.revoked).toBe(1);
    expect(await iotStatus(d.certPem)).toBe("GONE");
    expect((await patch({ credentials_inhibited: false })).status).toBe(200);
    const fresh = await requestCertificate(tether, realm.name, d.deviceId, d.secret);
    expect(await iotStatus(fresh.certPem)).toBe("ACTIVE");
    expect(await timeline(d.deviceId)).toEqual([
      "registered",
      "issued",
      "inhibited",
      "revoked",
      "uninhibited",
      "issued",
    ]);
  });

  it("a sweep that fails midway is finished by the next run: nothing deleted twice, nothing left ACTIVE", async () => {
    const devices = await Promise.all([0, 1, 2].map(() => pairDevice(tether, realm, randomDeviceId())));
    for (const d of devices) await requestCertificate(tether, realm.name, d.deviceId, d.secret);
    tether.clock.advance(HOUR + 60_000);
    try {
      const real = pairingDeps();
      const deletes: string[] = [];
      let failuresLeft = 2;
      // A fault injector around the real IoT adapter: the first two removals die after deactivating.
      const flaky: TransportRegistry = withFaults(real.transport, {
        async removeCertificate(realmName, deviceId, certificateId, arn) {
          if (failuresLeft > 0) {
            failuresLeft--;
            await real.transport.deactivateCertificate(certificateId);
            throw new Error("injected IoT outage");
          }
          deletes.push(certificateId);
          await real.transport.removeCertificate(realmName, deviceId, certificateId, arn);
        },
      });
      const first = await runSweep({ ...real, transport: flaky });
      expect(first.outcomes.failed).toBe(2);
      expect(first.outcomes.superseded).toBe(1);
      const second = await runSweep({ ...real, transport: flaky });
      expect(second.outcomes.superseded).toBe(2);
      expect(second.outcomes.failed).toBe(0);
      expect((await runSweep({ ...real, transport: flaky })).found).toBe(0);
      expect(new Set(deletes).size).toBe(deletes.length);
      for (const d of devices) expect(await iotStatus(d.certPem)).toBe("GONE");
    } finally {
      tether.clock.advance(-(HOUR + 60_000));
    }
  });

  it("cleans up after an issuance that died between IoT registration and its record (intent)", async () => {
    const { iot } = testBed().clients;
    const d = await pairDevice(tether, realm, randomDeviceId());
    const real = pairingDeps();
    const before = ((await iot.send(new ListCertificatesCommand({}))).certificates ?? []).map(
      (c) => c.certificateId,
    );
    // The function "dies" right after IoT registered the new certificate ACTIVE: neither attach nor record run.
    const { setPairingDeps } = await import("../../functions/adapters/container.ts");
    setPairingDeps({
      ...real,
      transport: withFaults(real.transport, {
        removeCertificate: async () => {
          throw new Error("the function is gone");
        },
        attachCertificate: async () => {
          throw new Error("the function is gone");
        },
      }),
    });
    try {
      await expect(requestCertificate(tether, realm.name, d.deviceId, d.secret)).rejects.toThrow(/500/);
    } finally {
      setPairingDeps(real);
    }
    const orphans = ((await iot.send(new ListCertificatesCommand({}))).certificates ?? []).filter(
      (c) => !before.includes(c.certificateId),
    );
    expect(orphans.map((c) => c.status)).toEqual(["ACTIVE"]);

    tether.clock.advance(11 * 60_000);
    try {
      const report = await runSweep();
      expect(report.outcomes.intent_orphan_removed).toBe(1);
    } finally {
      tether.clock.advance(-11 * 60_000);
    }
    const after = ((await iot.send(new ListCertificatesCommand({}))).certificates ?? []).map(
      (c) => c.certificateId,
    );
    expect(after).not.toContain(orphans[0]?.certificateId);
    // The device's own certificate was never touched.
    expect(await iotStatus(d.certPem)).toBe("ACTIVE");
  });

  it("hands out a retried request's certificate attached, even if the first request died before attaching it", async () => {
    const { iot } = testBed().clients;
    const deviceId = randomDeviceId();
    const secret = await registerDevice(tether, realm, deviceId);
    const { privateKeyPem, csrPem } = await generateKeyAndCsr({ subject: `CN=${realm.name}/${deviceId}` });
    const ask = () =>
      tether.request("POST", credentialsPath(realm.name, deviceId), {
        token: secret,
        body: { data: { csr: csrPem } },
      });
    // Private CA answers a repeated idempotency token with the same certificate; moto ignores the token, so
    // the CA adapter remembers it here the way Private CA does.
    const real = pairingDeps();
    const byKey = new Map<string, Promise<string>>();
    const { setPairingDeps } = await import("../../functions/adapters/container.ts");
    setPairingDeps({
      ...real,
      ca: withFaults(real.ca, {
        requestCertificate: (request) => {
          const known = byKey.get(request.idempotencyKey) ?? real.ca.requestCertificate(request);
          byKey.set(request.idempotencyKey, known);
          return known;
        },
      }),
    });
    try {
      const first = await ask();
      expect(first.status).toBe(201);
      // The state a function dying between the record and the attach leaves: current, registered, unattached.
      const certPem: string = first.body.data.client_crt;
      const certificateId = iotCertificateId(new X509Certificate(certPem).raw);
      const arn = (await iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription
        ?.certificateArn;
      await iot.send(
        new DetachThingPrincipalCommand({ thingName: `${realm.name}:${deviceId}`, principal: arn }),
      );
      await iot.send(new DetachPolicyCommand({ policyName: testBed().env.policyName, target: arn }));
      const cn = `${realm.name}/${deviceId}`;
      const keyAndCert = { caPem: testBed().env.caCertPem, certPem, keyPem: privateKeyPem };
      await expect(connectDevice(testBed().brokerPort, cn, keyAndCert)).rejects.toThrow(/Not authorized/);

      const retried = await ask();
      expect(retried.status).toBe(201);
      expect(retried.body.data.client_crt).toBe(certPem);
      const client = await connectDevice(testBed().brokerPort, cn, keyAndCert);
      await endQuietly(client);
    } finally {
      setPairingDeps(real);
    }
  });
});

/** The real adapter with some methods replaced by fault injectors (the rest still reach the emulator). */
function withFaults<T extends object>(real: T, overrides: Partial<T>): T {
  return Object.assign(Object.create(real) as T, overrides);
}
