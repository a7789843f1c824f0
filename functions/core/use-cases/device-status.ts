import type * as z from "zod/mini";
import { canonicalDeviceId } from "../../contracts/ids.ts";
import type {
  DeviceEventsResponse,
  DeviceListResponse,
  DevicePatchRequest,
  DeviceStatusResponse,
  deviceListQuery,
} from "../../contracts/pairing.ts";
import { routePath } from "../../contracts/routes.ts";
import { ValidationError } from "../errors.ts";
import { deviceCommonName } from "../identity.ts";
import type { CertificateRecord, Device, Realm } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { CertificateLedger, DeviceRegistry, FleetView, RealmStore } from "../ports/device-store.ts";
import type { RealmDevice } from "./authenticate.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry & CertificateLedger & FleetView;

/** AppEngine `GET /v1/{realm}/devices/{id}`: the device's status as an operator sees it. */
export async function getDeviceStatus(
  deps: DepsOf<Store, "clock">,
  { device }: RealmDevice,
): Promise<DeviceStatusResponse["data"]> {
  return statusOf(device, await currentCertificate(deps, device));
}

/**
 * AppEngine `PATCH /v1/{realm}/devices/{id}` (merge-patch): sets `credentials_inhibited`. Inhibiting stops new
 * certificates; issued ones live until they expire, unless `revoke_credentials` (Tether) is also set, which
 * deactivates them in IoT, records them revoked and closes the device's MQTT connection now.
 */
export async function patchDevice(
  deps: DepsOf<Store, "clock" | "transport" | "connections">,
  found: RealmDevice,
  data: DevicePatchRequest["data"],
): Promise<DeviceStatusResponse["data"]> {
  const { realm } = found;
  let { device } = found;
  const { deviceId } = device;
  if (data.credentials_inhibited !== undefined) {
    await deps.store.setCredentialsInhibited(
      realm.name,
      deviceId,
      data.credentials_inhibited,
      deps.clock.now().toISOString(),
    );
    device = { ...device, credentialsInhibited: data.credentials_inhibited };
  }
  if (data.revoke_credentials && device.credentialsInhibited) {
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
  return statusOf(device, await currentCertificate(deps, device));
}

/**
 * AppEngine `GET /v1/{realm}/devices?details=&limit=&from_token=`: a page of the realm's devices in id order,
 * as Astarte answers it (ids, or status objects with `details=true`), with `links.self` and `links.next`.
 */
export async function listDevices(
  deps: DepsOf<Store, "clock">,
  realm: Realm,
  query: z.output<typeof deviceListQuery>,
): Promise<DeviceListResponse> {
  const { details, limit } = query;
  const token = query.from_token ?? query.from;
  const after = token === undefined ? undefined : canonicalDeviceId(token);
  if (token !== undefined && !after) {
    throw new ValidationError({
      [query.from_token === undefined ? "from" : "from_token"]: ["is not a page token"],
    });
  }
  const page = await deps.store.listDevices(realm.name, limit, after);
  const pagePath = (from: string | undefined) =>
    routePath("listDevices", { realm: realm.name }, { details, from_token: from, limit: String(limit) });
  const links = { self: pagePath(after), ...(page.next ? { next: pagePath(page.next) } : {}) };
  if (details === "false") return { data: page.devices.map((d) => d.deviceId), links };
  const data = await Promise.all(
    page.devices.map(async (d) => statusOf(d, await currentCertificate(deps, d))),
  );
  return { data, links };
}

/** AppEngine `GET /v1/{realm}/devices/{id}/events`: the device's credential timeline, newest first. */
export async function deviceEvents(
  deps: DepsOf<Store, "clock">,
  { realm, device }: RealmDevice,
): Promise<DeviceEventsResponse["data"]> {
  const events = await deps.store.listEvents(realm.name, device.deviceId, 100);
  return events.map((e) => ({
    type: e.type,
    at: e.at,
    ...(e.serial ? { serial: e.serial } : {}),
    ...(e.reason ? { reason: e.reason } : {}),
  }));
}

async function currentCertificate(
  deps: DepsOf<Store>,
  device: Device,
): Promise<CertificateRecord | undefined> {
  if (!device.currentSerial) return undefined;
  return deps.store.getCertificate(device.realm, device.deviceId, device.currentSerial);
}

function statusOf(device: Device, certificate: CertificateRecord | undefined): DeviceStatusResponse["data"] {
  return {
    id: device.deviceId,
    credentials_inhibited: device.credentialsInhibited,
    first_registration: device.firstRegistration,
    first_credentials_request: device.firstCredentialsRequest ?? null,
    last_credentials_request_ip: device.lastCredentialsRequestIp ?? null,
    introspection: { ...device.introspection },
    connected: device.connected ?? false,
    last_connection: device.lastConnection ?? null,
    last_disconnection: device.lastDisconnection ?? null,
    last_seen_ip: device.lastSeenIp ?? null,
    metadata: { ...device.metadata },
    certificate: certificate
      ? {
          serial: certificate.serial,
          not_before: certificate.notBefore,
          not_after: certificate.notAfter,
          state: certificate.state,
        }
      : null,
  };
}
