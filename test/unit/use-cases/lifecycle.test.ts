import { describe, expect, it } from "vitest";
import { ForbiddenError, UnprocessableError } from "../../../functions/core/errors.ts";
import {
  deviceEvents,
  getDeviceStatus,
  listDevices,
  patchDevice,
} from "../../../functions/core/use-cases/device-status.ts";
import { getDeviceInfo } from "../../../functions/core/use-cases/get-device-info.ts";
import { deleteRealm, getRealm, listRealms, updateRealm } from "../../../functions/core/use-cases/realms.ts";
import { rotateSecret } from "../../../functions/core/use-cases/rotate-secret.ts";
import { boundedRun, sweep } from "../../../functions/core/use-cases/sweep.ts";
import { recordMetadata, recordPresence } from "../../../functions/core/use-cases/transport-events.ts";
import { unregisterDevice } from "../../../functions/core/use-cases/unregister-device.ts";
import { verifyCredentials } from "../../../functions/core/use-cases/verify-credentials.ts";
import { type MemoryFleet, memoryFleet } from "../../support/memory-fleet.ts";

const SWEEP = boundedRun(8, 500);
const verify = (fleet: MemoryFleet, deviceId: string, secret: string, pem: string) =>
  verifyCredentials(
    fleet.deps,
    { ...fleet.credentials(deviceId, secret), protocol: "astarte_mqtt_v1" },
    () => ({ client_crt: pem }),
  );

describe("verify, inhibit, unregister, rotate and sweep on the in-memory adapters", () => {
  it("verifies: valid with until and renew_after; REVOKED once superseded past grace; EXPIRED; NAME_NOT_PERMITTED; INVALID", async () => {
    const fleet = await memoryFleet({ grace_seconds: 60, issuance_budget_per_hour: 100 });
    const { deviceId, secret } = await fleet.register();
    const other = await fleet.register();
    const first = await fleet.pair(deviceId, secret);
    const theirs = await fleet.pair(other.deviceId, other.secret);
    expect(await verify(fleet, deviceId, secret, first.certificatePem)).toMatchObject({ valid: true });
    expect(await verify(fleet, deviceId, secret, theirs.certificatePem)).toMatchObject({
      cause: "NAME_NOT_PERMITTED",
    });
    expect(await verify(fleet, deviceId, secret, "not a certificate")).toMatchObject({ cause: "INVALID" });
    await fleet.pair(deviceId, secret);
    expect(await verify(fleet, deviceId, secret, first.certificatePem)).toMatchObject({ valid: true });
    fleet.clock.advance(61_000);
    expect(await verify(fleet, deviceId, secret, first.certificatePem)).toMatchObject({ cause: "REVOKED" });
    fleet.clock.advance(8 * 86_400_000);
    expect(await verify(fleet, deviceId, secret, first.certificatePem)).toMatchObject({ cause: "EXPIRED" });
  });

  it("sweeps superseded certificates past grace and expired ones out of IoT, revokes superseded at the CA, and reruns idempotently", async () => {
    const fleet = await memoryFleet({ grace_seconds: 60, issuance_budget_per_hour: 100 });
    const { deviceId, secret } = await fleet.register();
    const first = await fleet.pair(deviceId, secret);
    const second = await fleet.pair(deviceId, secret);
    expect(fleet.transport.active(fleet.realm, deviceId)).toHaveLength(2);
    expect((await sweep(fleet.deps, SWEEP)).found).toBe(0);
    fleet.clock.advance(61_000);
    const report = await sweep(fleet.deps, SWEEP);
    expect(report.outcomes.superseded).toBe(1);
    expect(fleet.transport.certificates.has(first.record.iotCertificateId)).toBe(false);
    expect(fleet.ca.revoked.size).toBe(1);
    expect((await sweep(fleet.deps, SWEEP)).found).toBe(0);
    fleet.clock.advance(8 * 86_400_000);
    expect((await sweep(fleet.deps, SWEEP)).outcomes.expired).toBe(1);
    expect(fleet.transport.certificates.size).toBe(0);
    expect(
      (await fleet.store.getRealmAndDevice(fleet.realm, deviceId)).device?.currentSerial,
    ).toBeUndefined();
    expect(second.record.serial).not.toBe(first.record.serial);
  });

  it("sweeps at most its batch limit per run and says it was truncated; the next run finishes", async () => {
    const fleet = await memoryFleet({ grace_seconds: 0, issuance_budget_per_hour: 100 });
    for (let i = 0; i < 5; i++) {
      const { deviceId, secret } = await fleet.register();
      await fleet.pair(deviceId, secret);
      await fleet.pair(deviceId, secret);
    }
    fleet.clock.advance(1000);
    const first = await sweep(fleet.deps, boundedRun(8, 2));
    expect(first.truncated).toBe(true);
    let swept = first.outcomes.superseded;
    for (let run = 0; run < 5; run++)
      swept += (await sweep(fleet.deps, boundedRun(8, 2))).outcomes.superseded;
    expect(swept).toBe(5);
  });

  it("clears an abandoned issuance: the certificate its intent names is revoked and removed from IoT", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    fleet.faults.fail("attachCertificate");
    fleet.faults.fail("removeCertificate");
    await expect(fleet.pair(deviceId, secret)).rejects.toBeInstanceOf(AggregateError);
    fleet.clock.advance(3_600_000);
    const report = await sweep(fleet.deps, SWEEP);
    expect(report.outcomes.intent_cleared + report.outcomes.intent_orphan_removed).toBe(1);
    expect(fleet.transport.certificates.size).toBe(0);
    expect((await fleet.store.listHoldings(fleet.realm, deviceId)).intents).toEqual([]);
  });

  it("inhibits with revoke-now: live certificates deactivated, the session closed, verify says REVOKED", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    const issued = await fleet.pair(deviceId, secret);
    const status = await patchDevice(fleet.deps, await fleet.agent(deviceId), {
      credentialsInhibited: true,
      revokeCredentials: true,
    });
    expect(status.device.credentialsInhibited).toBe(true);
    expect(fleet.transport.active(fleet.realm, deviceId)).toEqual([]);
    expect(fleet.connections.disconnected).toContain(`${fleet.realm}/${deviceId}`);
    expect(await verify(fleet, deviceId, secret, issued.certificatePem)).toMatchObject({ cause: "REVOKED" });
    await patchDevice(fleet.deps, await fleet.agent(deviceId), { credentialsInhibited: false });
    await expect(fleet.pair(deviceId, secret)).resolves.toBeDefined();
  });

  it("unregisters: the secret stops working, certificates leave IoT, and the device can be registered again", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    await fleet.pair(deviceId, secret);
    const result = await unregisterDevice(fleet.deps, await fleet.agent(deviceId));
    expect(result.removedCertificates).toBe(1);
    expect(fleet.transport.certificates.size).toBe(0);
    await expect(fleet.pair(deviceId, secret)).rejects.toBeInstanceOf(ForbiddenError);
    const again = await fleet.register(deviceId);
    await expect(fleet.pair(deviceId, again.secret)).resolves.toBeDefined();
  });

  it("rotates a secret: the old one stops working, the new one pairs", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    const rotated = await rotateSecret(fleet.deps, await fleet.agent(deviceId));
    await expect(fleet.pair(deviceId, secret)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(fleet.pair(deviceId, rotated.credentialsSecret)).resolves.toBeDefined();
  });

  it("refuses to register a confirmed device again, and over the realm's device limit", async () => {
    const fleet = await memoryFleet({ device_limit: 1 });
    const { deviceId, secret } = await fleet.register();
    await fleet.pair(deviceId, secret);
    await expect(fleet.register(deviceId)).rejects.toBeInstanceOf(UnprocessableError);
    await expect(fleet.register()).rejects.toBeInstanceOf(UnprocessableError);
  });

  it("answers info, status, the device list and the timeline", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    await fleet.pair(deviceId, secret);
    const info = await getDeviceInfo(fleet.deps, fleet.credentials(deviceId, secret));
    expect(info.status).toBe("confirmed");
    const status = await getDeviceStatus(fleet.deps, await fleet.agent(deviceId));
    expect(status.device.deviceId).toBe(deviceId);
    expect(status.certificate?.state).toBe("current");
    const list = await listDevices(fleet.deps, await fleet.realmRecord(), {
      limit: 100,
      after: undefined,
      withCertificates: false,
    });
    expect(list.devices.map((d) => d.device.deviceId)).toEqual([deviceId]);
    const timeline = await deviceEvents(fleet.deps, await fleet.agent(deviceId));
    expect(JSON.stringify(timeline)).toContain("issued");
  });

  it("records presence in event order and metadata from the device's own topic", async () => {
    const fleet = await memoryFleet();
    const { deviceId } = await fleet.register();
    const clientId = `${fleet.realm}/${deviceId}`;
    const at = fleet.clock.now();
    expect(await recordPresence(fleet.deps, { clientId, connected: true, at, ip: "192.0.2.1" })).toBe(
      "recorded",
    );
    expect(
      await recordPresence(fleet.deps, {
        clientId,
        connected: false,
        at,
        ip: undefined,
        disconnectReason: "DUPLICATE_CLIENTID",
      }),
    ).toBe("takeover");
    const metadata = new TextEncoder().encode(JSON.stringify({ model: "A300" }));
    expect(await recordMetadata(fleet.deps, { topic: `${clientId}/metadata`, payload: metadata })).toBe(
      "recorded",
    );
    expect((await fleet.store.getRealmAndDevice(fleet.realm, deviceId)).device).toMatchObject({
      connected: true,
      metadata: { model: "A300" },
    });
  });

  it("manages realms: update, list, delete, then the sweeper purges devices, things and the record", async () => {
    const fleet = await memoryFleet();
    const { deviceId, secret } = await fleet.register();
    await fleet.pair(deviceId, secret);
    expect((await updateRealm(fleet.deps, fleet.realm, () => ({ grace_seconds: 5 }))).graceSeconds).toBe(5);
    expect(await listRealms(fleet.deps)).toEqual([fleet.realm]);
    await deleteRealm(fleet.deps, fleet.realm);
    await expect(getRealm(fleet.deps, fleet.realm)).rejects.toThrow();
    fleet.clock.advance(120_000);
    for (let run = 0; run < 3; run++) await sweep(fleet.deps, SWEEP);
    expect(fleet.tables.realms.size).toBe(0);
    expect(fleet.tables.devices.size).toBe(0);
    expect(fleet.transport.things.size).toBe(0);
    expect(fleet.transport.certificates.size).toBe(0);
  });
});
