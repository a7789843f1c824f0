import { canonicalDeviceId } from "../../contracts/ids.ts";
import {
  type DeviceEventsResponse,
  type DeviceListResponse,
  type DevicePatchRequest,
  type DeviceStatusResponse,
  deviceListQuery,
  devicePatchRequest,
} from "../../contracts/pairing.ts";
import { ValidationError } from "../errors.ts";
import { deviceCommonName } from "../identity.ts";
import type { CertificateRecord, Device } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { CertificateLedger, DeviceRegistry, FleetView, RealmStore } from "../ports/device-store.ts";
import { parseEnvelope } from "../validation.ts";
import { type AgentCall, authorizeDeviceCall, authorizeRealmCall, grantId } from "./authenticate.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry & CertificateLedger & FleetView;

type Call = Omit<AgentCall, "claim" | "method" | "path">;

/** AppEngine `GET /v1/{realm}/devices/{id}`: the device's status as an operator sees it. */
export async function getDeviceStatus(
  deps: DepsOf<Store, "clock">,
  call: Call,
  deviceIdText: string,
): Promise<DeviceStatusResponse["data"]> {
  const { device } = await authorizeDeviceCall(
    deps,
    { ...call, claim: "a_aea", method: "GET", path: `devices/${grantId(deviceIdText)}` },
    deviceIdText,
  );
  return statusOf(device, await currentCertificate(deps, device));
}

/**
 * AppEngine `PATCH /v1/{realm}/devices/{id}` (merge-patch): sets `credentials_inhibited`. Inhibiting stops new
 * certificates; issued ones live until they expire, unless `revoke_credentials` (Tether) is also set, which
 * deactivates them in IoT, records them revoked and closes the device's MQTT connection now.
 */
export async function patchDevice(
  deps: DepsOf<Store, "clock" | "transport" | "connections">,
  call: Call,
  deviceIdText: string,
  body: unknown,
): Promise<DeviceStatusResponse["data"]> {
  const found = await authorizeDeviceCall(
    deps,
    { ...call, claim: "a_aea", method: "PATCH", path: `devices/${grantId(deviceIdText)}` },
    deviceIdText,
  );
  const { realm } = found;
  let { device } = found;
  const { deviceId } = device;
  const { data }: DevicePatchRequest = parseEnvelope(devicePatchRequest, body);
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
  call: Call,
  query: Readonly<Record<"details" | "limit" | "from_token" | "from", string | undefined>>,
): Promise<DeviceListResponse> {
  const realm = await authorizeRealmCall(deps, { ...call, claim: "a_aea", method: "GET", path: "devices" });
  const parsed = deviceListQuery.safeParse(query);
  if (!parsed.success) {
    throw new ValidationError(
      Object.fromEntries(parsed.error.issues.map((i) => [String(i.path[0] ?? "query"), [i.message]])),
    );
  }
  const { details, limit } = parsed.data;
  const token = parsed.data.from_token ?? parsed.data.from;
  const after = token === undefined ? undefined : canonicalDeviceId(token);
  if (token !== undefined && !after) {
    throw new ValidationError({
      [parsed.data.from_token === undefined ? "from" : "from_token"]: ["is not a page token"],
    });
  }
  const page = await deps.store.listDevices(realm.name, limit, after);
  const pagePath = (from: string | undefined) =>
    `/v1/${realm.name}/devices?details=${details}${from ? `&from_token=${from}` : ""}&limit=${limit}`;
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
  call: Call,
  deviceIdText: string,
): Promise<DeviceEventsResponse["data"]> {
  const { realm, device } = await authorizeDeviceCall(
    deps,
    { ...call, claim: "a_aea", method: "GET", path: `devices/${grantId(deviceIdText)}/events` },
    deviceIdText,
  );
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
