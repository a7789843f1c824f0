import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DescribeCertificateCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
} from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pairingDeps } from "../../functions/adapters/container.ts";
import { SWEEP_SHARDS } from "../../functions/adapters/table-schema.ts";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import { boundedRun, sweep } from "../../functions/core/use-cases/sweep.ts";
import { runningFunction } from "../../local/function-context.ts";
import { type DataEvent, randomDeviceId, TetherDevice, type TetherDeviceOptions } from "../../sdk/index.ts";
import { servicePublish, waitForPublished } from "../support/broker-admin.ts";
import { registerDevice } from "../support/device.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 200 };

describe("the device SDK against the local stack", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  let stateRoot: string;
  const devices: TetherDevice[] = [];

  async function newDevice(overrides: Partial<TetherDeviceOptions> = {}) {
    const deviceId = randomDeviceId();
    const credentialsSecret = await registerDevice(tether, realm, deviceId);
    let offsetMs = 0;
    const device = new TetherDevice({
      pairingUrl: `${tether.url}/pairing`,
      realm: realm.name,
      deviceId,
      credentialsSecret,
      stateDir: join(stateRoot, deviceId),
      brokerCa: testBed().env.caCertPem,
      introspection: { "org.example.Meter": { major: 1, minor: 0 } },
      serverInterfaces: ["org.example.Commands"],
      retry: FAST_RETRY,
      clock: () => new Date(Date.now() + offsetMs),
      ...overrides,
    });
    devices.push(device);
    return { device, deviceId, credentialsSecret, advance: (ms: number) => (offsetMs += ms) };
  }

  const waitFor = async (check: () => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("sdk", { grace_seconds: 0 });
    stateRoot = await mkdtemp(join(tmpdir(), "tether-sdk-"));
  });
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await rm(stateRoot, { recursive: true, force: true });
    await tether.close();
  });

  it("pairs, connects, publishes introspection, sends and receives; keeps its key 0600", async () => {
    const { device, deviceId } = await newDevice();
    await device.connect();
    expect(device.connected).toBe(true);
    const cn = `sdk/${deviceId}`;
    expect((await waitForPublished((m) => m.topic === cn)).payload).toBe("org.example.Meter:1:0");

    await device.send("org.example.Meter", "/power", 42.5);
    const sent = await waitForPublished((m) => m.topic === `${cn}/org.example.Meter/power`);
    expect(JSON.parse(sent.payload)).toMatchObject({ v: 42.5 });

    const received = new Promise<DataEvent>((resolve) => device.once("data", resolve));
    await servicePublish(`${cn}/org.example.Commands/reboot`, JSON.stringify({ v: true }));
    expect(await received).toEqual({ interface: "org.example.Commands", path: "/reboot", value: true });

    const mode = (await stat(join(stateRoot, deviceId, "device.key.pem"))).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it("reuses its stored certificate on the next start instead of pairing again", async () => {
    const { device, deviceId, credentialsSecret } = await newDevice();
    await device.connect();
    const first = device.credentials?.certificatePem;
    await device.close();
    // A process restarting comes back after a second at least; sooner, IoT Core (and the local broker) would
    // close the CONNECT unanswered (one per second per client id), and the SDK would ask Pairing to verify.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const calls: string[] = [];
    const restarted = new TetherDevice({
      pairingUrl: `${tether.url}/pairing`,
      realm: realm.name,
      deviceId,
      credentialsSecret,
      stateDir: join(stateRoot, deviceId),
      brokerCa: testBed().env.caCertPem,
      retry: FAST_RETRY,
      fetch: async (input, init) => {
        calls.push(String(input));
        return fetch(input, init);
      },
    });
    devices.push(restarted);
    await restarted.connect();
    expect(restarted.credentials?.certificatePem).toBe(first);
    expect(calls.filter((c) => c.includes("/credentials"))).toEqual([]);
  });

  it("renews after renew_after without losing a message sent during the switch", async () => {
    const { device, deviceId, advance } = await newDevice();
    await device.connect();
    const before = device.credentials;
    advance((before?.renewAfter.getTime() ?? 0) - Date.now() + 1000);
    const renewing = device.renewIfDue();
    const sends = [1, 2, 3].map((i) => device.send("org.example.Meter", "/seq", i));
    expect(await renewing).toBe(true);
    await Promise.all(sends);
    const after = device.credentials;
    expect(new X509Certificate(after?.certificatePem ?? "").serialNumber).not.toBe(
      new X509Certificate(before?.certificatePem ?? "").serialNumber,
    );
    expect(after?.keyPem).not.toBe(before?.keyPem);
    for (const i of [1, 2, 3]) {
      await waitForPublished(
        (m) => m.topic === `sdk/${deviceId}/org.example.Meter/seq` && JSON.parse(m.payload).v === i,
      );
    }
    expect(device.connected).toBe(true);
  });

  it("comes back by itself after its certificate is revoked: re-pairs once un-inhibited", async () => {
    const { device, deviceId } = await newDevice();
    await device.connect();
    const first = device.credentials?.certificatePem;
    const patch = async (data: unknown) =>
      tether.request("PATCH", `/appengine/v1/sdk/devices/${deviceId}`, {
        token: await realm.jwt(),
        body: { data },
      });
    await patch({ credentials_inhibited: true, revoke_credentials: true });
    await waitFor(() => !device.connected);
    await patch({ credentials_inhibited: false });
    await waitFor(() => device.connected && device.credentials?.certificatePem !== first, 20_000);
    await device.send("org.example.Meter", "/back", "online");
    await waitForPublished((m) => m.topic === `sdk/${deviceId}/org.example.Meter/back`);
  });

  it("gets a new certificate when the broker keeps refusing one Pairing calls valid (left unattached in IoT)", async () => {
    const { device, deviceId } = await newDevice();
    await device.connect();
    const first = device.credentials?.certificatePem ?? "";
    await device.close();
    // What a function dying between the record and the attach leaves: a current certificate nothing uses.
    const { iot } = testBed().clients;
    const certificateArn = (
      await iot.send(
        new DescribeCertificateCommand({ certificateId: iotCertificateId(new X509Certificate(first).raw) }),
      )
    ).certificateDescription?.certificateArn;
    await iot.send(
      new DetachThingPrincipalCommand({ thingName: `sdk:${deviceId}`, principal: certificateArn }),
    );
    await iot.send(new DetachPolicyCommand({ policyName: testBed().env.policyName, target: certificateArn }));
    expect(
      (await tether.request("GET", `/appengine/v1/sdk/devices/${deviceId}`, { token: await realm.jwt() }))
        .body.data.certificate.state,
    ).toBe("current");

    await device.connect();
    expect(device.connected).toBe(true);
    expect(device.credentials?.certificatePem).not.toBe(first);
    await device.send("org.example.Meter", "/healed", true);
    await waitForPublished((m) => m.topic === `sdk/${deviceId}/org.example.Meter/healed`);
  });

  it("re-pairs with its secret alone after its certificate expired and was swept", async () => {
    const { device, advance } = await newDevice();
    await device.connect();
    await device.close();
    const expiredFor = (device.credentials?.notAfter.getTime() ?? 0) - Date.now() + 3_600_000;
    advance(expiredFor);
    tether.clock.advance(expiredFor);
    try {
      await runningFunction.run("sweeper", () => sweep(pairingDeps(), boundedRun(SWEEP_SHARDS, 500)));
      const old = device.credentials?.certificatePem;
      await device.connect();
      expect(device.connected).toBe(true);
      expect(device.credentials?.certificatePem).not.toBe(old);
    } finally {
      tether.clock.advance(-expiredFor);
    }
  });
});
