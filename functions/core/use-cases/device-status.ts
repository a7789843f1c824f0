import { checkDeviceQuery, type DeviceQuery, isSearch } from "../device-query.ts";
import { deviceCommonName } from "../identity.ts";
import type { CertificateRecord, CredentialEvent, Device, Realm } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { CertificateLedger, DeviceRegistry, FleetView, RealmStore } from "../ports/device-store.ts";
import type { RealmDevice } from "./authenticate.ts";

/** A device as an operator sees it: its record and its current certificate, if it has one. */
export interface DeviceStatus {
  readonly device: Device;
  readonly certificate: CertificateRecord | undefined;
}

/** What an operator may change of a device (AppEngine's merge-patch, read by the edge). */
export interface DevicePatch {
  readonly credentialsInhibited?: boolean | undefined;
  /** Tether: with inhibition, deactivate its certificates and end its MQTT session now. */
  readonly revokeCredentials?: boolean | undefined;
}

/** A page of a realm's devices in id order; `next` is where the following page starts, if one does. */
export interface DevicePage {
  readonly devices: readonly DeviceStatus[];
  readonly next: string | undefined;
}

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry & CertificateLedger & FleetView;

/** AppEngine `GET /v1/{realm}/devices/{id}`: the device's status as an operator sees it. */
export async function getDeviceStatus(
  deps: DepsOf<Store, "clock">,
  { device }: RealmDevice,
): Promise<DeviceStatus> {
  return { device, certificate: await currentCertificate(deps, device) };
}

/**
 * AppEngine `PATCH /v1/{realm}/devices/{id}` (merge-patch): sets `credentials_inhibited`. Inhibiting stops new
 * certificates; issued ones live until they expire, unless `revoke_credentials` (Tether) is also set, which
 * deactivates them in IoT, records them revoked and closes the device's MQTT connection now.
 */
export async function patchDevice(
  deps: DepsOf<Store, "clock" | "transport" | "connections">,
  found: RealmDevice,
  patch: DevicePatch,
): Promise<DeviceStatus> {
  const { realm } = found;
  let { device } = found;
  const { deviceId } = device;
  if (patch.credentialsInhibited !== undefined) {
    await deps.store.setCredentialsInhibited(
      realm.name,
      deviceId,
      patch.credentialsInhibited,
      deps.clock.now().toISOString(),
    );
    device = { ...device, credentialsInhibited: patch.credentialsInhibited };
  }
  if (patch.revokeCredentials && device.credentialsInhibited) {
    const certificates = await deps.store.listCertificates(realm.name, deviceId);
    // Record first (verify answers REVOKED from now on), then IoT. A retry after a partial failure finds them
    // already revoked and deactivates them again: deactivation is idempotent.
    await deps.store.markRevoked(
      realm.name,
      deviceId,
      certificates.filter((c) => c.state === "current" || c.state === "superseded").map((c) => c.serial),
      deps.clock.now().toISOString(),
    );
    await Promise.all(
      certificates
        .filter((c) => c.state !== "retired")
        .map((c) => deps.transport.deactivateCertificate(c.iotCertificateId)),
    );
    // IoT Core drops a deactivated certificate's connection only "within minutes": end it now.
    await deps.connections.disconnect(deviceCommonName(realm.name, deviceId));
  }
  return { device, certificate: await currentCertificate(deps, device) };
}

/**
 * AppEngine `GET /v1/{realm}/devices`: a page of the realm's devices, each with its current certificate when
 * `withCertificates` (Astarte's `details=true`), else the record alone. Astarte's list (no Tether search
 * parameters) is in id order and its token is the last id; a search (core/device-query.ts) is served by
 * Tether's indexes, or refused when none serves it, and its token is opaque.
 */
export async function listDevices(
  deps: DepsOf<Store>,
  realm: Realm,
  page: {
    readonly limit: number;
    /** Where the page starts: the previous page's last id (Astarte's list), or a search's page token. */
    readonly after: string | undefined;
    readonly withCertificates: boolean;
    readonly query?: DeviceQuery | undefined;
  },
): Promise<DevicePage> {
  const query = page.query;
  const found =
    query && isSearch(query)
      ? await deps.store.searchDevices(
          realm.name,
          checkDeviceQuery(query, realm.indexedMetadataKeys),
          page.limit,
          page.after,
        )
      : await deps.store.listDevices(realm.name, page.limit, page.after);
  const devices = await Promise.all(
    found.devices.map(async (device) => ({
      device,
      certificate: page.withCertificates ? await currentCertificate(deps, device) : undefined,
    })),
  );
  return { devices, next: found.next };
}

/** AppEngine `GET /v1/{realm}/devices/{id}/events`: the device's credential timeline, newest first. */
export async function deviceEvents(
  deps: DepsOf<Store>,
  { realm, device }: RealmDevice,
): Promise<CredentialEvent[]> {
  return deps.store.listEvents(realm.name, device.deviceId, 100);
}

async function currentCertificate(
  deps: DepsOf<Store>,
  device: Device,
): Promise<CertificateRecord | undefined> {
  if (!device.currentSerial) return undefined;
  return deps.store.getCertificate(device.realm, device.deviceId, device.currentSerial);
}
