import type { PairingDeps } from "../pairing-deps.ts";
import { type AgentCall, authorizeDeviceCall } from "./authenticate.ts";

/**
 * Forgets a device's secret and confirmation so it can be registered again, and takes its certificates off
 * the transport: each is deactivated (the broker drops the device), detached and deleted from IoT.
 */
export async function unregisterDevice(
  deps: Pick<PairingDeps, "store" | "clock" | "transport">,
  call: Omit<AgentCall, "claim" | "method" | "path">,
  deviceIdText: string,
): Promise<{ deviceId: string; removedCertificates: number }> {
  const { realm, device } = await authorizeDeviceCall(
    deps,
    { ...call, claim: "a_pa", method: "DELETE", path: `agent/devices/${deviceIdText}` },
    deviceIdText,
  );
  const { deviceId } = device;

  const certificates = (await deps.store.listCertificates(realm.name, deviceId)).filter(
    (c) => c.state !== "retired",
  );
  const now = deps.clock.now().toISOString();
  // Revoke in the record first: from now on verify answers REVOKED, and if the IoT removal below fails, the
  // sweeper (which finds revoked certificates due now) finishes it.
  await deps.store.unregisterDevice(realm.name, deviceId, now);
  await deps.store.markRevoked(
    realm.name,
    deviceId,
    certificates.filter((c) => c.state !== "revoked").map((c) => c.serial),
    now,
  );
  await Promise.all(
    certificates.map((c) =>
      deps.transport.removeCertificate(realm.name, deviceId, c.iotCertificateId, c.iotCertificateArn),
    ),
  );
  return { deviceId, removedCertificates: certificates.length };
}
