import {
  decodePageToken,
  descending,
  deviceSortKey,
  encodePageToken,
  matchesDeviceQuery,
} from "../../core/device-query.ts";
import type { CredentialEvent } from "../../core/model.ts";
import type { FleetView } from "../../core/ports/device-store.ts";
import { compare, copy, deviceOut, type MemoryTables } from "./tables.ts";

type Fleet = FleetView;

/** Presence, metadata and the realm's device list and timelines, as the DynamoDB adapter answers them. */
export function fleet(t: MemoryTables): Fleet {
  return {
    async recordPresence(realm, deviceId, presence) {
      const row = t.device(realm, deviceId);
      // Lifecycle events may arrive out of order: an older one never overwrites a newer one.
      if (!row || (row.presenceAt !== undefined && row.presenceAt > presence.at)) return false;
      row.device.connected = presence.connected;
      if (presence.connected) row.device.lastConnection = presence.at;
      else row.device.lastDisconnection = presence.at;
      row.presenceAt = presence.at;
      if (presence.ip) row.device.lastSeenIp = presence.ip;
      return true;
    },

    async setMetadata(realm, deviceId, metadata, indexed) {
      const row = t.device(realm, deviceId);
      if (!row) return false;
      row.device.metadata = copy({ ...metadata });
      if (indexed !== undefined) row.device.indexedMetadata = copy({ ...indexed });
      return true;
    },

    async listDevices(realm, limit, after) {
      const ids = [...t.devices.values()]
        .filter((row) => row.device.realm === realm)
        .map((row) => row.device.deviceId)
        .sort(compare)
        .filter((id) => after === undefined || compare(id, after) > 0);
      const page = ids.slice(0, limit);
      const rows = page.map((id) => t.device(realm, id)).filter((row) => row !== undefined);
      // Like a DynamoDB Query with Limit: a full page says there may be more, even when there is none.
      return { devices: rows.map(deviceOut), next: page.length === limit ? page.at(-1) : undefined };
    },

    async searchDevices(realm, query, limit, token) {
      const after = token === undefined ? undefined : decodePageToken(query, token);
      const ascending = !descending(query.sort);
      const keyed = [...t.devices.values()]
        .filter((row) => row.device.realm === realm && matchesDeviceQuery(row.device, query))
        .map((row) => ({ row, key: deviceSortKey(row.device, query.sort) }))
        .filter(({ key }) => after === undefined || (ascending ? key > after : key < after))
        .sort((a, b) => (ascending ? compare(a.key, b.key) : compare(b.key, a.key)));
      const page = keyed.slice(0, limit);
      const last = page.at(-1)?.key;
      return {
        devices: page.map(({ row }) => deviceOut(row)),
        next: keyed.length > limit && last !== undefined ? encodePageToken(query, last) : undefined,
        // What the indexes would read: every entry of the page (this store has none to skip).
        scanned: page.length,
      };
    },

    async backfillViews() {
      // This store searches its records themselves: there are no views to fill in.
      return { projected: 0, done: true };
    },

    async listEvents(realm, deviceId, limit) {
      const rows = [...(t.events.get(`${realm}#${deviceId}`) ?? [])];
      // Newest first, as the sort key `EVENT#<at>#<order>#…` read backwards orders them.
      rows.sort((a, b) => compare(b.event.at, a.event.at) || b.order - a.order || b.seq - a.seq);
      return rows.slice(0, limit).map((row): CredentialEvent => copy(row.event));
    },
  };
}
