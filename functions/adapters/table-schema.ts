import { createHash } from "node:crypto";

/**
 * The single DynamoDB table's key schema, shared by the CDK stack and the local bootstrap so that the
 * table tests run against is the table AWS gets.
 */
export const TABLE_KEYS = { partition: "pk", sort: "sk" } as const;

/** Index that lists work for the certificate sweeper by its next deadline, never by scanning. */
export const SWEEP_INDEX = { name: "by-deadline", partition: "sweepShard", sort: "deadline" } as const;

/** Index that lists a realm's devices (device items only), in device-id order. */
export const REALM_INDEX = { name: "by-realm", partition: "realmKey", sort: "deviceId" } as const;

/** Attribute DynamoDB's TTL deletes items by (epoch seconds). */
export const TTL_ATTRIBUTE = "expiresAt";

/** Sweep work is spread over this many index partitions so no single partition gets hot. */
export const SWEEP_SHARDS = 8;

/** The sweep shard of a device (or a realm, by name): its place on the sweep index, the same on every adapter. */
export function sweepShardOf(id: string): number {
  return createHash("sha256").update(id).digest().readUInt8(0) % SWEEP_SHARDS;
}

/**
 * The device search's one index (core/device-query.ts; adapters/dynamo/device-views.ts). Each device keeps a few
 * view items in its own partition (`VIEW#<kind>`), projected from its record after every change that moves it,
 * and each view's key places the device for one family of queries: one index serves them all, and a new family
 * needs a new view, not a new index (CloudFormation adds one index per deploy). Keys only.
 * - status view: `viewKey` = `V#<realm>#s#<status>#<shard>`, `viewSort` = device id;
 * - presence view: `viewKey` = `V#<realm>#p#<status>#<c|d>#<shard>`, `viewSort` = `<last seen or 0>#<device id>`;
 * - expiry view (only while the device has a current certificate): `viewKey` = `V#<realm>#e#<status>#<shard>`,
 *   `viewSort` = `<its notAfter>#<device id>`;
 * - metadata views (one per key the realm indexes that the device reported): `viewKey` =
 *   `V#<realm>#m#<key>#<value>#<status>#<shard>`, `viewSort` = device id.
 * Every partition key is spread over {@link VIEW_SHARDS} shards, so a reconnect storm (every presence event moves
 * a device's presence view) writes to many index partitions per realm, never one; a query reads every shard.
 */
export const VIEW_INDEX = { name: "by-view", partition: "viewKey", sort: "viewSort" } as const;

/** Index partitions per realm and view value (a query reads them all, a write lands in one). */
export const VIEW_SHARDS = 4;

/** A device's view shard (another byte of the hash than its sweep shard). */
export function viewShardOf(deviceId: string): number {
  return createHash("sha256").update(deviceId).digest().readUInt8(1) % VIEW_SHARDS;
}

export const statusViewKey = (realm: string, status: string, shard: number) =>
  `V#${realm}#s#${status}#${shard}`;
export const presenceViewKey = (realm: string, status: string, connected: boolean, shard: number) =>
  `V#${realm}#p#${status}#${connected ? "c" : "d"}#${shard}`;
export const expiryViewKey = (realm: string, status: string, shard: number) =>
  `V#${realm}#e#${status}#${shard}`;
/** Metadata keys carry no `#` (realm settings refuse one), so a key and its value cannot be confused. */
export const metadataViewKey = (realm: string, key: string, value: string, status: string, shard: number) =>
  `V#${realm}#m#${key}#${value}#${status}#${shard}`;
