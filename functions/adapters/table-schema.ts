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
