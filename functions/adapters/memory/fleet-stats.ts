import { deviceListStatus } from "../../core/device-query.ts";
import { EXPIRING_WITHIN_SECONDS, emptyFleetCounts, hourOf } from "../../core/fleet-stats.ts";
import type { FleetStats } from "../../core/ports/device-store.ts";
import { compare, copy, type MemoryTables } from "./tables.ts";

/** The fleet's counts and hourly activity counters, as the DynamoDB adapter answers them. */
export function fleetStats(t: MemoryTables): FleetStats {
  return {
    async countFleet(realm, now) {
      const counts = emptyFleetCounts(now);
      const devices = counts.devices as Record<string, { connected: number; disconnected: number }>;
      const soon = new Date(Date.parse(now) + EXPIRING_WITHIN_SECONDS * 1000).toISOString();
      let expiringSoon = 0;
      let lapsed = 0;
      for (const { device } of t.devices.values()) {
        if (device.realm !== realm) continue;
        const status = deviceListStatus(device);
        const cell = devices[status] as { connected: number; disconnected: number };
        cell[device.connected === true ? "connected" : "disconnected"]++;
        const notAfter = device.currentNotAfter;
        if (status !== "confirmed" || notAfter === undefined) continue;
        if (notAfter < now) lapsed++;
        else if (notAfter < soon) expiringSoon++;
      }
      return { ...counts, expiringSoon, lapsed };
    },

    async getFleetCounts(realm) {
      const counts = t.fleetCounts.get(realm);
      return counts ? copy(counts) : undefined;
    },

    async saveFleetCounts(realm, counts) {
      t.fleetCounts.set(realm, copy(counts));
    },

    async countActivity(realm, at, counts) {
      const hours = t.activity.get(realm) ?? new Map<string, Record<string, number>>();
      t.activity.set(realm, hours);
      const hour = hourOf(at);
      const sums = hours.get(hour) ?? {};
      for (const [name, n] of Object.entries(counts)) {
        if (n !== undefined && n !== 0) sums[name] = (sums[name] ?? 0) + n;
      }
      if (Object.keys(sums).length > 0) hours.set(hour, sums);
    },

    async forgetFleetStats(realm) {
      t.fleetCounts.delete(realm);
      t.activity.delete(realm);
    },

    async readActivity(realm, from, to) {
      return [...(t.activity.get(realm) ?? new Map<string, Record<string, number>>())]
        .filter(([hour]) => hour >= from && hour <= to)
        .sort(([a], [b]) => compare(a, b))
        .map(([hour, counts]) => ({ hour, counts: copy(counts) }));
    },
  };
}
