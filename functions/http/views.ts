import type * as z from "zod/mini";
import type {
  DeviceEventsResponse,
  DeviceInfoResponse,
  DeviceListResponse,
  DeviceStatusResponse,
  deviceListQuery,
  FleetOverviewResponse,
  VerifyResponse,
} from "../contracts/pairing.ts";
import type { RealmResponse } from "../contracts/realms.ts";
import { routePath } from "../contracts/routes.ts";
import type { CredentialEvent, Realm } from "../core/model.ts";
import type { DeviceStatus } from "../core/use-cases/device-status.ts";
import type { FleetOverview } from "../core/use-cases/fleet-overview.ts";
import type { DeviceInfo } from "../core/use-cases/get-device-info.ts";
import type { Verification } from "../core/use-cases/verify-credentials.ts";

/**
 * How the domain's values look on the wire: snake_case, Astarte's timestamps and links. Use-cases return
 * domain values; the handlers answer with these.
 */

/** Astarte's timestamp form: UTC, milliseconds, a space between date and time, trailing Z. */
export function astarteTimestamp(date: Date): string {
  return date.toISOString().replace("T", " ");
}

export function deviceStatusView({ device, certificate }: DeviceStatus): DeviceStatusResponse["data"] {
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

/**
 * Astarte AppEngine's list page: device ids, or status objects with `details=true`; `links.self` is this page's
 * path and query, `links.next` the next page's (with its `from_token`), only when more devices follow.
 */
export function deviceListView(
  realm: Realm,
  query: z.output<typeof deviceListQuery>,
  after: string | undefined,
  page: { readonly devices: readonly DeviceStatus[]; readonly next: string | undefined },
): DeviceListResponse {
  const pagePath = (from: string | undefined) =>
    routePath(
      "listDevices",
      { realm: realm.name },
      {
        details: query.details,
        from_token: from,
        limit: String(query.limit),
        status: query.status,
        connected: query.connected,
        id_prefix: query.id_prefix,
        expiring_before: query.expiring_before,
        metadata_key: query.metadata_key,
        metadata_value: query.metadata_value,
        sort: query.sort,
      },
    );
  const links = { self: pagePath(after), ...(page.next ? { next: pagePath(page.next) } : {}) };
  if (query.details === "false") return { data: page.devices.map((d) => d.device.deviceId), links };
  return { data: page.devices.map(deviceStatusView), links };
}

export function deviceEventsView(events: readonly CredentialEvent[]): DeviceEventsResponse["data"] {
  return events.map((e) => ({
    type: e.type,
    at: e.at,
    ...(e.serial ? { serial: e.serial } : {}),
    ...(e.reason ? { reason: e.reason } : {}),
  }));
}

export function verificationView(result: Verification): VerifyResponse["data"] {
  const timestamp = astarteTimestamp(result.at);
  if (!result.valid) return { valid: false, timestamp, cause: result.cause, details: null };
  return {
    valid: true,
    timestamp,
    until: astarteTimestamp(result.until),
    renew_after: result.renewAfter.toISOString(),
  };
}

export function deviceInfoView(info: DeviceInfo): DeviceInfoResponse["data"] {
  return {
    version: info.version,
    status: info.status,
    protocols: { astarte_mqtt_v1: { broker_url: info.brokerUrl } },
  };
}

/** A realm as housekeeping shows it; a realm without its own broker URL shows the service's. */
export function realmView(realm: Realm, defaultBrokerUrl: string): RealmResponse["data"] {
  return {
    realm_name: realm.name,
    jwt_public_key_pem: realm.jwtPublicKeyPem,
    broker_url: realm.brokerUrl ?? defaultBrokerUrl,
    certificate_validity_seconds: realm.certificateValiditySeconds,
    grace_seconds: realm.graceSeconds,
    ...(realm.deviceLimit === undefined ? {} : { device_limit: realm.deviceLimit }),
    issuance_budget_per_hour: realm.issuanceBudgetPerHour,
    max_live_certificates: realm.maxLiveCertificates,
    indexed_metadata_keys: [...realm.indexedMetadataKeys],
    device_count: realm.deviceCount,
  };
}

/** The fleet overview on the wire; hours as full UTC times (`2026-12-03T12:00:00Z`). */
export function fleetOverviewView({
  counts,
  countsMaxAgeSeconds,
  activity,
}: FleetOverview): FleetOverviewResponse["data"] {
  const cells = Object.values(counts.devices);
  const hour = (h: string) => `${h}:00:00Z`;
  return {
    total_devices: cells.reduce((sum, c) => sum + c.connected + c.disconnected, 0),
    connected_devices: cells.reduce((sum, c) => sum + c.connected, 0),
    devices: {
      pending: { ...counts.devices.pending },
      confirmed: { ...counts.devices.confirmed },
      inhibited: { ...counts.devices.inhibited },
    },
    certificates: { expiring_within_24h: counts.expiringSoon, lapsed: counts.lapsed },
    counted_at: counts.at,
    counted_every_seconds: countsMaxAgeSeconds,
    activity: {
      from: hour(activity.from),
      to: hour(activity.to),
      hours: activity.hours.map((h) => ({ hour: hour(h.hour), counts: { ...h.counts } })),
    },
  };
}
