import { X509Certificate } from "node:crypto";
import { DescribeCertificateCommand, ListCertificatesCommand } from "@aws-sdk/client-iot";
import { DeleteConnectionCommand } from "@aws-sdk/client-iot-data-plane";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../functions/adapters/config.ts";
import { createPairingDeps, pairingDeps, setPairingDeps } from "../../functions/adapters/container.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import { generateKeyAndCsr } from "../../local/x509.ts";
import {
  credentialsPath,
  devicePath,
  type PairedDevice,
  pairDevice,
  registerDevice,
} from "../support/device.ts";
import { holdAfter, withFaults } from "../support/fault-proxy.ts";
import { connectDevice, endQuietly, waitForClose } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether, type TestRealm } from "../support/tether.ts";

/**
 * Fencing (DESIGN.md): an issuance records only while the device still has the very secret it authenticated
 * with. Each race is run as a fixed interleaving: one request is held between two of its AWS calls while the
 * other runs in that gap, so the test hits the window every time (on the code before the fence, each failed).
 */
describe("fencing: no issuance in flight lands across unregister, re-registration or rotation", () => {
  let tether: LocalTether;
  let realm: TestRealm;
  beforeAll(async () => {
    tether = await startLocalTether();
    realm = await tether.createRealm("fenced");
  });
  afterEach(() => setPairingDeps(createPairingDeps(loadConfig(), testBed().clients, tether.clock)));
  afterAll(async () => tether.close());

  const hold = (command: string) => {
    const held = holdAfter(testBed().clients, command);
    setPairingDeps(createPairingDeps(loadConfig(), held.clients, tether.clock));
    return held;
  };
  const issue = async (deviceId: string, secret: string) =>
    tether.request("POST", credentialsPath(realm.name, deviceId), {
      token: secret,
      body: { data: { csr: (await generateKeyAndCsr({ subject: `CN=${realm.name}/${deviceId}` })).csrPem } },
    });
  /** IoT certificate ids that are ACTIVE now. */
  const activeInIot = async () =>
    new Set(
      ((await testBed().clients.iot.send(new ListCertificatesCommand({ pageSize: 250 }))).certificates ?? [])
        .filter((c) => c.status === "ACTIVE")
        .map((c) => c.certificateId ?? ""),
    );
  const connectAs = (device: PairedDevice) =>
    connectDevice(testBed().brokerPort, device.cn, {
      caPem: testBed().env.caCertPem,
      certPem: device.certPem,
      keyPem: device.keyPem,
    });
  const idOf = (pem: string) => iotCertificateId(new X509Certificate(pem).raw);
  const liveRecords = async (deviceId: string) =>
    (await pairingDeps().store.listCertificates(realm.name, deviceId)).filter(
      (c) => c.state === "current" || c.state === "superseded",
    );

  it("unregister: once it and every request in flight have answered, nothing of the device is ACTIVE or live, and its MQTT session is over", async () => {
    const device = await pairDevice(tether, realm, randomDeviceId());
    const client = await connectAs(device);
    try {
      const before = await activeInIot();
      // Unregister is held right after it listed the device's certificates; an issuance runs in that gap.
      const held = hold("QueryCommand");
      const unregistering = tether.request(
        "DELETE",
        `/pairing/v1/${realm.name}/agent/devices/${device.deviceId}`,
        {
          token: await realm.jwt(),
        },
      );
      await held.reached;
      const issued = await issue(device.deviceId, device.secret);
      held.release();
      expect((await unregistering).status).toBe(204);
      expect(issued.status).toBe(403);

      const after = await activeInIot();
      expect([...after].filter((id) => !before.has(id))).toEqual([]);
      expect(after.has(idOf(device.certPem))).toBe(false);
      expect(await liveRecords(device.deviceId)).toEqual([]);
      await waitForClose(client, 5_000);
    } finally {
      await endQuietly(client);
    }
  });

  it("unregister closes the device's MQTT connection with IoT Core's DeleteConnection", async () => {
    const device = await pairDevice(tether, realm, randomDeviceId());
    const faulty = withFaults(testBed().clients, []);
    setPairingDeps(createPairingDeps(loadConfig(), faulty, tether.clock));
    const response = await tether.request(
      "DELETE",
      `/pairing/v1/${realm.name}/agent/devices/${device.deviceId}`,
      {
        token: await realm.jwt(),
      },
    );
    expect(response.status).toBe(204);
    expect(faulty.calls).toContain("DeleteConnectionCommand");
  });

  it("a secret rotation stops an issuance that authenticated with the old secret", async () => {
    const device = await pairDevice(tether, realm, randomDeviceId());
    const before = await activeInIot();
    // The issuance is held right after it authenticated the device (and took its issuance slot, an UpdateItem);
    // the rotation runs in that gap.
    const held = hold("UpdateItemCommand");
    const issuing = issue(device.deviceId, device.secret);
    await held.reached;
    const rotated = await tether.request(
      "POST",
      `/pairing/v1/${realm.name}/agent/devices/${device.deviceId}/credentials_secret`,
      { token: await realm.jwt() },
    );
    held.release();
    expect(rotated.status).toBe(201);
    expect((await issuing).status).toBe(403);
    expect([...(await activeInIot())].filter((id) => !before.has(id))).toEqual([]);
    // The certificate issued before the rotation is untouched: rotation is not revocation.
    expect((await liveRecords(device.deviceId)).map((c) => c.iotCertificateId)).toEqual([
      idOf(device.certPem),
    ]);
    const fresh = await issue(device.deviceId, rotated.body.data.credentials_secret);
    expect(fresh.status).toBe(201);
  });

  it("re-registering a pending device stops the first issuance that authenticated with its old secret", async () => {
    const deviceId = randomDeviceId();
    const oldSecret = await registerDevice(tether, realm, deviceId);
    const before = await activeInIot();
    const held = hold("UpdateItemCommand");
    const issuing = issue(deviceId, oldSecret);
    await held.reached;
    const newSecret = await registerDevice(tether, realm, deviceId);
    held.release();
    expect((await issuing).status).toBe(403);
    expect([...(await activeInIot())].filter((id) => !before.has(id))).toEqual([]);
    expect(await liveRecords(deviceId)).toEqual([]);
    // Still pending, and the new secret pairs it.
    const info = await tether.request("GET", devicePath(realm.name, deviceId), { token: newSecret });
    expect(info.body.data.status).toBe("pending");
    expect((await issue(deviceId, newSecret)).status).toBe(201);
  });

  it("the local data plane answers DeleteConnection as IoT Core documents it", async () => {
    const device = await pairDevice(tether, realm, randomDeviceId());
    const client = await connectAs(device);
    try {
      const iotData = testBed().clients.iotData;
      await iotData.send(new DeleteConnectionCommand({ clientId: device.cn, cleanSession: true }));
      // Closed at once although its certificate is still ACTIVE: DeleteConnection is not deactivation.
      await waitForClose(client, 2_000);
      const certificateId = idOf(device.certPem);
      const described = await testBed().clients.iot.send(new DescribeCertificateCommand({ certificateId }));
      expect(described.certificateDescription?.status).toBe("ACTIVE");
      await expect(iotData.send(new DeleteConnectionCommand({ clientId: device.cn }))).rejects.toMatchObject({
        name: "ResourceNotFoundException",
      });
      await expect(iotData.send(new DeleteConnectionCommand({ clientId: "$aws/x" }))).rejects.toMatchObject({
        name: "InvalidRequestException",
      });
    } finally {
      await endQuietly(client);
    }
  });
});
