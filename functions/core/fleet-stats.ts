import type { DeviceListStatus } from "./device-query.ts";
import type { RetiredReason } from "./model.ts";

/**
 * The fleet at a glance (the dashboard's overview): the realm's devices counted by status and presence, its
 * certificates by expiry, and hourly counters of what happened to its credentials.
 */

/** A realm's devices counted by status and presence, and by their current certificate's expiry, at `at`. */
export interface FleetCounts {
  readonly at: string;
  readonly devices: Readonly<
    Record<DeviceListStatus, { readonly connected: number; readonly disconnected: number }>
  >;
  /** Devices whose current certificate expires within {@link EXPIRING_WITHIN_SECONDS} of `at`. */
  readonly expiringSoon: number;
  /** Devices whose current certificate expired before `at` (they did not renew in time). */
  readonly lapsed: number;
}

/** "Expiring soon" on the overview: within a day. */
export const EXPIRING_WITHIN_SECONDS = 24 * 3600;

/**
 * What the hourly activity counters count: certificates issued to a device for the first time and renewals
 * (issue-credentials), credentials requests refused by cause (`refused_<error code>`), and certificates the
 * sweeper took out of IoT by reason (`swept_<reason>`).
 */
export type ActivityName = "issued" | "renewed" | `refused_${string}` | `swept_${RetiredReason}`;
export type ActivityCounts = Readonly<Partial<Record<ActivityName, number>>>;

/** One hour's counters (`hour`: the ISO time's first 13 characters, `2026-12-03T12`, UTC). */
export interface ActivityHour {
  readonly hour: string;
  readonly counts: Readonly<Record<string, number>>;
}

/** The hour an ISO time falls in, as activity counters are keyed. */
export const hourOf = (iso: string): string => iso.slice(0, 13);

/** The overview's longest chart: 7 days of hours (counters are kept a day longer, then expire). */
export const ACTIVITY_HOURS = 7 * 24;

/** An empty count (a realm without devices). */
export function emptyFleetCounts(at: string): FleetCounts {
  const none = { connected: 0, disconnected: 0 };
  return {
    at,
    devices: { pending: { ...none }, confirmed: { ...none }, inhibited: { ...none } },
    expiringSoon: 0,
    lapsed: 0,
  };
}
