import { deviceCommonName } from "../identity.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { CertificateLedger, DeviceRegistry, RealmStore } from "../ports/device-store.ts";
import type { RealmDevice } from "./authenticate.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry & CertificateLedger;

/**
 * Forgets a device's secret and confirmation so it can be registered again, and takes its certificates off
 * the transport: each is deactivated, detached and deleted from IoT, and the device's MQTT connection is closed.
 */
export async function unregisterDevice(
  deps: DepsOf<Store, "clock" | "transport" | "connections">,
  { realm, device }: RealmDevice,
): Promise<{ deviceId: string; removedCertificates: number }> {
  const { deviceId } = device;

  const now = deps.clock.now().toISOString();
  // The fence first: with the secret gone, no issuance in flight can record a certificate any more (its
  // record is conditional on the secret it authenticated with, and it compensates in IoT). So the list
  // read after it holds every certificate the device will ever have had.
  await deps.store.unregisterDevice(realm.name, deviceId, now);
  const certificates = (await deps.store.listCertificates(realm.name, deviceId)).filter(
    (c) => c.state !== "retired",
  );
  // Revoke in the record next: from now on verify answers REVOKED, and if the IoT removal below fails, the
  // sweeper (which finds revoked certificates due now) finishes it.
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
  // IoT Core drops a deactivated certificate's connection only "within minutes": end it now.
  await deps.connections.disconnect(deviceCommonName(realm.name, deviceId));
  return { deviceId, removedCertificates: certificates.length };
}
