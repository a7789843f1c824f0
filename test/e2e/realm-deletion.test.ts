import { X509Certificate } from "node:crypto";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { CreateThingCommand, DescribeCertificateCommand, DescribeThingCommand } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pairingDeps } from "../../functions/adapters/container.ts";
import { SWEEP_SHARDS } from "../../functions/adapters/table-schema.ts";
import { randomDeviceId } from "../../functions/contracts/ids.ts";
import { iotCertificateId } from "../../functions/core/certificate-id.ts";
import { deviceThingName } from "../../functions/core/identity.ts";
import { REALM_PURGE_DELAY_MS } from "../../functions/core/use-cases/realms.ts";
import { boundedRun, sweep } from "../../functions/core/use-cases/sweep.ts";
import { runningFunction } from "../../local/function-context.ts";
import { devicePath, pairDevice, registerDevice, requestCertificate } from "../support/device.ts";
import { connectDevice, endQuietly, waitForClose } from "../support/mqtt.ts";
import { testBed } from "../support/test-bed.ts";
import { type LocalTether, startLocalTether } from "../support/tether.ts";

describe("deleting a realm", () => {
  let tether: LocalTether;
  beforeAll(async () => {
    tether = await startLocalTether();
  });
  afterAll(async () => tether.close());

  const admin = () => ({ token: tether.adminToken });
  const runSweep = () =>
    runningFunction.run("sweeper", () => sweep(pairingDeps(), boundedRun(SWEEP_SHARDS, 100)));
  const iotGone = async (certPem: string) => {
    const certificateId = iotCertificateId(new X509Certificate(certPem).raw);
    return iot()
      .send(new DescribeCertificateCommand({ certificateId }))
      .then(
        () => false,
        () => true,
      );
  };
  const iot = () => testBed().clients.iot;
  const itemsOf = async (realm: string) =>
    (
      (
        await testBed().clients.dynamo.send(
          new ScanCommand({ TableName: testBed().env.tableName, ConsistentRead: true }),
        )
      ).Items ?? []
    ).filter((item) => item.pk?.S?.startsWith(`DEVICE#${realm}#`) || item.sk?.S === realm);

  it("shuts its devices out at once, then purges their certificates, things and records; the name can be reused", async () => {
    const realm = await tether.createRealm("doomed");
    const a = await pairDevice(tether, realm, randomDeviceId());
    const renewed = await requestCertificate(tether, realm.name, a.deviceId, a.secret);
    const b = await pairDevice(tether, realm, randomDeviceId());
    // A thing without a device record, as a registration that failed midway left one before things were made
    // after the record: the purge finds it by its realm attribute.
    const orphan = deviceThingName("doomed", randomDeviceId());
    await iot().send(
      new CreateThingCommand({ thingName: orphan, attributePayload: { attributes: { realm: "doomed" } } }),
    );
    const client = await connectDevice(testBed().brokerPort, a.cn, {
      caPem: testBed().env.caCertPem,
      certPem: renewed.certPem,
      keyPem: renewed.keyPem,
    });
    try {
      expect((await tether.request("DELETE", "/housekeeping/v1/realms/doomed", admin())).status).toBe(204);

      // Gone for every API at once.
      expect(
        (await tether.request("GET", devicePath("doomed", a.deviceId), { token: a.secret })).status,
      ).toBe(403);
      await expect(requestCertificate(tether, "doomed", b.deviceId, b.secret)).rejects.toThrow(/403/);
      await expect(registerDevice(tether, realm, randomDeviceId())).rejects.toThrow(/403/);
      expect((await tether.request("GET", "/housekeeping/v1/realms/doomed", admin())).status).toBe(404);
      expect((await tether.request("GET", "/housekeeping/v1/realms", admin())).body.data).not.toContain(
        "doomed",
      );
      expect((await tether.request("DELETE", "/housekeeping/v1/realms/doomed", admin())).status).toBe(404);
      // Not reusable until purged.
      const again = await tether.request("POST", "/housekeeping/v1/realms", {
        ...admin(),
        body: { data: { realm_name: "doomed", jwt_public_key_pem: "x" } },
      });
      expect(again.status).toBe(422);

      // Requests that read the realm as live may still be running: the purge waits for them.
      expect((await runSweep()).outcomes.device_purged).toBe(0);
      expect(client.connected).toBe(true);

      tether.clock.advance(REALM_PURGE_DELAY_MS + 1_000);
      const first = await runSweep();
      expect(first.outcomes).toMatchObject({ device_purged: 2, realm_purging: 1, failed: 0 });
      await waitForClose(client, 5_000);
      for (const pem of [a.certPem, renewed.certPem, b.certPem]) expect(await iotGone(pem)).toBe(true);
      for (const d of [a, b]) {
        await expect(
          iot().send(new DescribeThingCommand({ thingName: deviceThingName("doomed", d.deviceId) })),
        ).rejects.toThrow();
      }

      // Then the orphan thing (counted as a purged device), then the realm itself.
      expect((await runSweep()).outcomes).toMatchObject({ realm_purging: 1, device_purged: 1, failed: 0 });
      await expect(iot().send(new DescribeThingCommand({ thingName: orphan }))).rejects.toThrow();
      const second = await runSweep();
      expect(second.outcomes).toMatchObject({ realm_removed: 1, device_purged: 0, failed: 0 });
      expect(await itemsOf("doomed")).toEqual([]);
      expect((await runSweep()).found).toBe(0);
    } finally {
      await endQuietly(client);
    }

    // The name is free; nothing of the old realm's devices carries over.
    const reborn = await tether.createRealm("doomed");
    // An unknown device now: its old secret opens nothing.
    expect((await tether.request("GET", devicePath("doomed", a.deviceId), { token: a.secret })).status).toBe(
      404,
    );
    const secret = await registerDevice(tether, reborn, a.deviceId);
    expect(secret).not.toBe(a.secret);
    const shown = await tether.request("GET", "/housekeeping/v1/realms/doomed", admin());
    expect(shown.body.data.device_count).toBe(1);
  });
});
