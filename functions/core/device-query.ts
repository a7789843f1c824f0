import { createHash } from "node:crypto";
import { ValidationError } from "./errors.ts";
import type { Device } from "./model.ts";

/**
 * Tether's search over a realm's devices (the AppEngine list's additive query parameters): the filters and orders
 * it serves, each from an index that stays cheap at a million devices (adapters/dynamo/device-views.ts). Anything
 * else is refused (422), never filtered in memory.
 */

/** A device's place in its life: registered and never paired, paired at least once, or inhibited. */
export type DeviceListStatus = "pending" | "confirmed" | "inhibited";
export const DEVICE_LIST_STATUSES: readonly DeviceListStatus[] = ["pending", "confirmed", "inhibited"];

/**
 * device_id: ascending; last_seen: the latest connection or disconnection first, never-seen devices last; expiry:
 * devices with a current certificate, the soonest to expire first.
 */
export type DeviceSort = "device_id" | "last_seen" | "expiry";
export const DEVICE_SORTS: readonly DeviceSort[] = ["device_id", "last_seen", "expiry"];

export interface DeviceQuery {
  readonly status?: DeviceListStatus | undefined;
  readonly connected?: boolean | undefined;
  /** Device ids starting with this. */
  readonly idPrefix?: string | undefined;
  /** Devices whose current certificate expires before this time (ISO 8601, UTC), expired ones included. */
  readonly expiringBefore?: string | undefined;
  /** Devices whose metadata has this value under this key (one of the realm's indexed keys), compared as text. */
  readonly metadata?: { readonly key: string; readonly value: string } | undefined;
  readonly sort: DeviceSort;
}

/** The combinations served, as README and the OpenAPI document list them. */
export const SUPPORTED_DEVICE_QUERIES =
  "sort=device_id (the default) with status, id_prefix, both or neither; sort=last_seen with status, connected, both or neither; sort=expiry (the default with expiring_before) with status, expiring_before, both or neither; sort=device_id with metadata_key and metadata_value (a key the realm indexes) and status";

/** Inhibited first (whatever else is true), then confirmed once a certificate was ever issued, else pending. */
export function deviceListStatus(
  device: Pick<Device, "credentialsInhibited" | "firstCredentialsRequest">,
): DeviceListStatus {
  if (device.credentialsInhibited) return "inhibited";
  return device.firstCredentialsRequest === undefined ? "pending" : "confirmed";
}

/** Refuses (422) a combination no index serves, naming the ones served; `indexedKeys`: the realm's indexed keys. */
export function checkDeviceQuery(query: DeviceQuery, indexedKeys: readonly string[] = []): DeviceQuery {
  const refuse = (field: string, why: string) => {
    throw new ValidationError({ [field]: [`${why} (served: ${SUPPORTED_DEVICE_QUERIES})`] });
  };
  if (query.sort === "device_id" && query.connected !== undefined) {
    refuse("connected", "is served sorted by last_seen only");
  }
  if (query.sort !== "device_id" && query.idPrefix !== undefined) {
    refuse("id_prefix", "is served sorted by device_id only");
  }
  if (query.sort === "expiry" && query.connected !== undefined) {
    refuse("connected", "is served sorted by last_seen only");
  }
  if (query.sort !== "expiry" && query.expiringBefore !== undefined) {
    refuse("expiring_before", "is served sorted by expiry only");
  }
  if (query.metadata !== undefined) {
    if (!indexedKeys.includes(query.metadata.key)) {
      throw new ValidationError({
        metadata_key: [
          `is not one of this realm's indexed metadata keys (${indexedKeys.length > 0 ? indexedKeys.join(", ") : "none; see indexed_metadata_keys"})`,
        ],
      });
    }
    if (query.sort !== "device_id" || query.idPrefix !== undefined || query.connected !== undefined) {
      refuse("metadata_key", "is served sorted by device_id, with status only");
    }
  }
  return query;
}

/** Whether a query asks for more than Astarte's plain list (then Tether's indexes serve it). */
export function isSearch(query: DeviceQuery): boolean {
  return (
    query.sort !== "device_id" ||
    query.status !== undefined ||
    query.connected !== undefined ||
    query.idPrefix !== undefined ||
    query.expiringBefore !== undefined ||
    query.metadata !== undefined
  );
}

/** Whether a device, as recorded, matches a query's filters. */
export function matchesDeviceQuery(device: Device, query: DeviceQuery): boolean {
  if (query.status !== undefined && deviceListStatus(device) !== query.status) return false;
  if (query.connected !== undefined && (device.connected ?? false) !== query.connected) return false;
  if (query.idPrefix !== undefined && !device.deviceId.startsWith(query.idPrefix)) return false;
  if (query.metadata !== undefined && device.indexedMetadata?.[query.metadata.key] !== query.metadata.value) {
    return false;
  }
  // In expiry order: the devices with a current certificate (expiring before the time asked, if one is).
  if (query.sort === "expiry") {
    const notAfter = device.currentNotAfter;
    if (notAfter === undefined) return false;
    if (query.expiringBefore !== undefined && !(notAfter < query.expiringBefore)) return false;
  }
  return true;
}

/** When a device was last seen on MQTT (its latest connection or disconnection), if ever. */
export function lastSeen(device: Pick<Device, "lastConnection" | "lastDisconnection">): string | undefined {
  const { lastConnection: on, lastDisconnection: off } = device;
  // ISO times compare as text.
  return on === undefined || (off !== undefined && off > on) ? off : on;
}

/**
 * The key a query's order sorts a device by: its id, `<last seen or 0>#<id>` (compared as strings, descending for
 * last_seen: ISO times sort as text, and never-seen devices come last), or `<current certificate's notAfter>#<id>`
 * (ascending).
 */
export function deviceSortKey(device: Device, sort: DeviceSort): string {
  if (sort === "device_id") return device.deviceId;
  if (sort === "expiry") return `${device.currentNotAfter ?? ""}#${device.deviceId}`;
  return `${lastSeen(device) ?? "0"}#${device.deviceId}`;
}

/** Whether a sort lists the latest first (last_seen); the others list in ascending key order. */
export const descending = (sort: DeviceSort): boolean => sort === "last_seen";

/** A page of a search: the devices as recorded, where the next page starts, and the index entries read for it. */
export interface DeviceSearchPage {
  readonly devices: readonly Device[];
  readonly next: string | undefined;
  /** Index entries read (DynamoDB's ScannedCount, summed): what the page cost. */
  readonly scanned: number;
}

/**
 * What a search's page token holds: the query it belongs to (a digest, so a token stays short whatever the query
 * holds: a metadata value alone may be 256 characters), and the sort key of the last entry read.
 */
const fingerprint = (q: DeviceQuery) =>
  createHash("sha256")
    .update(
      JSON.stringify([
        q.sort,
        q.status ?? "",
        q.connected ?? "",
        q.idPrefix ?? "",
        q.expiringBefore ?? "",
        q.metadata?.key ?? "",
        q.metadata?.value ?? "",
      ]),
    )
    .digest("base64url")
    .slice(0, 22);

/** The token of the page after the one that ended at `lastKey` (opaque to clients: base64url JSON). */
export function encodePageToken(query: DeviceQuery, lastKey: string): string {
  return Buffer.from(JSON.stringify({ q: fingerprint(query), k: lastKey })).toString("base64url");
}

/** The sort key a page token continues after; refused (422) when it is not a token of this very search. */
export function decodePageToken(query: DeviceQuery, token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      q?: unknown;
      k?: unknown;
    };
    if (parsed.q === fingerprint(query) && typeof parsed.k === "string" && parsed.k.length <= 128) {
      return parsed.k;
    }
  } catch {
    // not JSON: refused below
  }
  throw new ValidationError({ from_token: ["is not a page token of this search"] });
}

/**
 * A device's metadata under the realm's indexed keys, as text: what the device search matches `metadata_value`
 * against (a number or boolean value matches its JSON text: `42`, `true`).
 */
export function indexedMetadataOf(
  metadata: Readonly<Record<string, string | number | boolean>> | undefined,
  keys: readonly string[],
): Record<string, string> {
  const indexed: Record<string, string> = {};
  for (const key of keys) {
    const value = metadata && Object.hasOwn(metadata, key) ? metadata[key] : undefined;
    if (value !== undefined) indexed[key] = String(value);
  }
  return indexed;
}
