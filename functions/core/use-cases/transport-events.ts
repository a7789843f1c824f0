import { canonicalDeviceId, realmNameSchema } from "../../contracts/ids.ts";
import { isPlainKey } from "../../contracts/pairing.ts";
import { indexedMetadataOf } from "../device-query.ts";
import type { DepsOf } from "../pairing-deps.ts";

import type { DeviceRegistry, FleetView } from "../ports/device-store.ts";

/** The store concepts this use-case reads and writes. */
type Store = DeviceRegistry & FleetView;

/** Bounds on what a device may store about itself. */
export const METADATA_LIMITS = { keys: 32, keyLength: 64, valueLength: 256, bytes: 4096 } as const;

export type TransportEventOutcome = "recorded" | "stale" | "takeover" | "unknown_device" | "invalid";

/** `<realm>/<device_id>` → its parts, or undefined if it is not a device's client id. */
function parseClientId(clientId: string): { realm: string; deviceId: string } | undefined {
  const slash = clientId.indexOf("/");
  if (slash < 0) return undefined;
  const realm = clientId.slice(0, slash);
  const deviceId = canonicalDeviceId(clientId.slice(slash + 1));
  if (!realmNameSchema.safeParse(realm).success || !deviceId || clientId.slice(slash + 1) !== deviceId)
    return undefined;
  return { realm, deviceId };
}

/**
 * A connection or disconnection of a device (IoT Core lifecycle event, or the local broker). The client id is
 * the device's certificate CN, which the broker enforced; unknown devices and stale events change nothing.
 */
export async function recordPresence(
  deps: DepsOf<Store>,
  event: {
    clientId: string;
    connected: boolean;
    at: Date;
    ip: string | undefined;
    /** IoT Core's `disconnectReason`, on disconnections. */
    disconnectReason?: string | undefined;
  },
): Promise<TransportEventOutcome> {
  const device = parseClientId(event.clientId);
  if (!device) return "invalid";
  // The device connected again with the same client id and IoT Core closed its older session: the device is
  // connected, whatever order the two events arrive in.
  if (!event.connected && event.disconnectReason === "DUPLICATE_CLIENTID") return "takeover";
  const recorded = await deps.store.recordPresence(device.realm, device.deviceId, {
    connected: event.connected,
    at: event.at.toISOString(),
    ip: event.ip,
  });
  return recorded ? "recorded" : "stale";
}

/**
 * What a device published on `<realm>/<id>/metadata` (after Kaa's EPMX): a JSON object of string, number or
 * boolean values, merged into its record. Anything else — not JSON, not an object, nested values, too many or
 * too long keys — is ignored and counted as invalid; it never fails or corrupts the record.
 */
export async function recordMetadata(
  deps: DepsOf<Store>,
  message: { topic: string; payload: Uint8Array },
): Promise<TransportEventOutcome> {
  if (!message.topic.endsWith("/metadata")) return "invalid";
  const device = parseClientId(message.topic.slice(0, -"/metadata".length));
  if (!device || message.payload.byteLength > METADATA_LIMITS.bytes) return "invalid";
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(message.payload).toString("utf8"));
  } catch {
    return "invalid";
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "invalid";
  // A map with no prototype: no key the device chooses can reach an inherited property.
  const update: Record<string, string | number | boolean> = Object.create(null);
  for (const [key, value] of Object.entries(parsed)) {
    if (key.length === 0 || key.length > METADATA_LIMITS.keyLength || !isPlainKey(key)) return "invalid";
    if (typeof value === "string" && value.length <= METADATA_LIMITS.valueLength) update[key] = value;
    else if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean")
      update[key] = value;
    else return "invalid";
  }
  const { realm, device: current } = await deps.store.getRealmAndDevice(device.realm, device.deviceId);
  if (!current || !realm) return "unknown_device";
  const merged: Record<string, string | number | boolean> = Object.assign(
    Object.create(null),
    current.metadata,
    update,
  );
  if (Object.keys(merged).length > METADATA_LIMITS.keys) return "invalid";
  // What the device search finds it by: recorded while the realm indexes keys, or to clear what it indexed before.
  const indexed =
    realm.indexedMetadataKeys.length > 0 || current.indexedMetadata !== undefined
      ? indexedMetadataOf(merged, realm.indexedMetadataKeys)
      : undefined;
  return (await deps.store.setMetadata(device.realm, device.deviceId, merged, indexed))
    ? "recorded"
    : "unknown_device";
}
