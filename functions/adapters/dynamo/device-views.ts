import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { MAX_INDEXED_METADATA_KEYS } from "../../contracts/realms.ts";
import {
  DEVICE_LIST_STATUSES,
  type DeviceQuery,
  type DeviceSearchPage,
  descending,
  deviceListStatus,
  lastSeen,
  matchesDeviceQuery,
} from "../../core/device-query.ts";
import type { Device } from "../../core/model.ts";
import { aws } from "../aws-errors.ts";
import {
  expiryViewKey,
  metadataViewKey,
  presenceViewKey,
  REALM_INDEX,
  statusViewKey,
  VIEW_INDEX,
  VIEW_SHARDS,
  viewShardOf,
} from "../table-schema.ts";
import { deviceKey, devicePk, type Item, m, toDevice, untilProcessed } from "./items.ts";

/**
 * The views a change can move: its status (every view: each key names the status), its presence (the presence
 * view), its current certificate (the expiry view) or its indexed metadata (the metadata views).
 */
export type ViewKind = "status" | "presence" | "expiry" | "metadata";
/** One metadata view item per indexed key a realm may declare, in slots (the device's indexed keys in order). */
const METADATA_SLOTS = Array.from({ length: MAX_INDEXED_METADATA_KEYS }, (_, slot) => `VIEW#m${slot}`);
/** The view items' sort keys in the device's partition. */
export const VIEW_SORT_KEYS = ["VIEW#status", "VIEW#presence", "VIEW#expiry", ...METADATA_SLOTS] as const;

/** The view items of a device as recorded (`ver` orders projections: a stale one never overwrites a newer). */
function viewItems(device: Device, ver: number, kinds: readonly ViewKind[]): Item[] {
  const { realm, deviceId } = device;
  const status = deviceListStatus(device);
  const shard = viewShardOf(deviceId);
  const base = { pk: devicePk(realm, deviceId), kind: "view", realm, ver };
  const all: Record<Exclude<ViewKind, "metadata">, Item> = {
    status: { ...base, sk: "VIEW#status", viewKey: statusViewKey(realm, status, shard), viewSort: deviceId },
    presence: {
      ...base,
      sk: "VIEW#presence",
      viewKey: presenceViewKey(realm, status, device.connected ?? false, shard),
      viewSort: `${lastSeen(device) ?? "0"}#${deviceId}`,
    },
    // Without a current certificate the item stays, keyless (out of the index), so its version still orders.
    expiry: {
      ...base,
      sk: "VIEW#expiry",
      ...(device.currentNotAfter === undefined
        ? {}
        : {
            viewKey: expiryViewKey(realm, status, shard),
            viewSort: `${device.currentNotAfter}#${deviceId}`,
          }),
    },
  };
  // A status change moves every view (each key names the status).
  const wanted = kinds.includes("status") ? (["status", "presence", "expiry", "metadata"] as const) : kinds;
  return wanted.flatMap((kind) =>
    kind === "metadata" ? metadataViews(device, base, status, shard) : [all[kind]],
  );
}

/**
 * The metadata views of a device whose indexed metadata was ever recorded (none for the others: a realm that
 * indexes nothing pays nothing): a slot per indexed key and value, keyed `V#<realm>#m#<key>#<value>#<status>#<shard>`
 * by device id; a slot not in use stays keyless, out of the index.
 */
function metadataViews(device: Device, base: Item, status: string, shard: number): Item[] {
  const indexed = device.indexedMetadata;
  if (indexed === undefined) return [];
  const entries = Object.entries(indexed).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return METADATA_SLOTS.map((sk, slot) => {
    const entry = entries[slot];
    return {
      ...base,
      sk,
      ...(entry
        ? {
            viewKey: metadataViewKey(device.realm, entry[0], entry[1], status, shard),
            viewSort: device.deviceId,
          }
        : {}),
    };
  });
}

/**
 * Brings a device's view items up to its record `item` (read after the change, with its `ver`): each put is
 * conditional on an older version, so of two projections racing the newer one stands. Best effort by design: a
 * view the function died before writing is set right by the device's next change, and a search checks every
 * device it returns against its record.
 */
export async function projectViews(
  dynamo: DynamoDBClient,
  tableName: string,
  item: Item,
  kinds: readonly ViewKind[],
): Promise<void> {
  const ver = Number(item.ver ?? 0);
  await Promise.all(
    viewItems(toDevice(item), ver, kinds).map(async (view) => {
      try {
        await aws(() =>
          dynamo.send(
            new PutItemCommand({
              TableName: tableName,
              Item: m(view),
              ConditionExpression: "attribute_not_exists(ver) OR ver < :ver",
              ExpressionAttributeValues: m({ ":ver": ver }),
            }),
          ),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }),
  );
}

/** Reads the device back (consistently) and projects its views: after a transaction, which returns nothing. */
export async function reprojectDevice(
  dynamo: DynamoDBClient,
  tableName: string,
  realm: string,
  deviceId: string,
  kinds: readonly ViewKind[] = ["status"],
): Promise<void> {
  const out = await aws(() =>
    dynamo.send(
      new GetItemCommand({ TableName: tableName, Key: m(deviceKey(realm, deviceId)), ConsistentRead: true }),
    ),
  );
  if (out.Item) await projectViews(dynamo, tableName, unmarshall(out.Item), kinds);
}

/** One key range of the index a search reads, and what it has read of it. */
interface Range {
  readonly viewKey: string;
  buffer: string[];
  start: Record<string, unknown> | undefined;
  done: boolean;
}

/**
 * A page of a search (core/device-query.ts): every shard's range of the view the query names, read in chunks and
 * merged in order, so the entries read and not returned stay within one page; then the page's devices read by
 * key and checked against their record (a view the last change did not reach yet is skipped, never shown wrong).
 * `after` is the last key of the previous page; `last`, set while more may follow, is this page's (the caller makes
 * it the token).
 */
export async function searchViews(
  dynamo: DynamoDBClient,
  tableName: string,
  realm: string,
  query: DeviceQuery,
  limit: number,
  after: string | undefined,
): Promise<Omit<DeviceSearchPage, "next"> & { readonly last: string | undefined }> {
  const statuses = query.status ? [query.status] : DEVICE_LIST_STATUSES;
  const byId = query.sort === "device_id";
  const byExpiry = query.sort === "expiry";
  const ascending = !descending(query.sort);
  const ranges: Range[] = [];
  for (const status of statuses) {
    for (let shard = 0; shard < VIEW_SHARDS; shard++) {
      const keys = query.metadata
        ? [metadataViewKey(realm, query.metadata.key, query.metadata.value, status, shard)]
        : byId
          ? [statusViewKey(realm, status, shard)]
          : byExpiry
            ? [expiryViewKey(realm, status, shard)]
            : (query.connected === undefined ? [true, false] : [query.connected]).map((c) =>
                presenceViewKey(realm, status, c, shard),
              );
      for (const viewKey of keys) {
        ranges.push({ viewKey, buffer: [], start: undefined, done: false });
      }
    }
  }
  let scanned = 0;
  const keys: string[] = [];
  // A round refills the ranges whose buffer ran dry (their next entry may come first), each with an even share
  // (over the ranges not exhausted: a value's shards hold about as many devices each) of the room left in one
  // page's worth of buffered entries. Entries read and not returned so never exceed one page: when even one entry
  // per dry range would overflow it, the page ends short (its token goes on from there). Only a first round over
  // more ranges than the page holds reads one entry per range.
  const share = (dry: number) => {
    const room = limit - ranges.reduce((sum, r) => sum + r.buffer.length, 0);
    const active = ranges.filter((r) => !r.done).length;
    const even = Math.floor(room / Math.max(1, active));
    if (even > 0) return even;
    if (room >= dry) return 1;
    return keys.length === 0 ? 1 : 0;
  };
  const fill = async (range: Range, size: number) => {
    const prefix = query.idPrefix;
    // device_id ascending from after `after` (within the prefix); expiry ascending from after it, below the time
    // asked ("~" sorts above every ISO time); last_seen descending from before it.
    const until = query.expiringBefore ?? "~";
    const condition = byId
      ? after !== undefined
        ? "viewKey = :k AND viewSort BETWEEN :lo AND :hi"
        : prefix
          ? "viewKey = :k AND begins_with(viewSort, :p)"
          : "viewKey = :k"
      : byExpiry
        ? after !== undefined
          ? "viewKey = :k AND viewSort BETWEEN :lo AND :hi"
          : "viewKey = :k AND viewSort < :hi"
        : after !== undefined
          ? "viewKey = :k AND viewSort < :before"
          : "viewKey = :k";
    const out = await aws(() =>
      dynamo.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: VIEW_INDEX.name,
          KeyConditionExpression: condition,
          ExpressionAttributeValues: m({
            ":k": range.viewKey,
            ...(byId && after !== undefined
              ? // The next possible key after `after` (" " sorts below every id character), to the prefix's end.
                { ":lo": `${after} `, ":hi": `${prefix ?? ""}~` }
              : {}),
            ...(byId && after === undefined && prefix ? { ":p": prefix } : {}),
            ...(byExpiry ? { ":hi": until, ...(after !== undefined ? { ":lo": `${after} ` } : {}) } : {}),
            ...(!ascending && after !== undefined ? { ":before": after } : {}),
          }),
          ScanIndexForward: ascending,
          Limit: size,
          ...(range.start ? { ExclusiveStartKey: m(range.start) } : {}),
        }),
      ),
    );
    scanned += out.ScannedCount ?? 0;
    for (const raw of out.Items ?? []) range.buffer.push(String(unmarshall(raw).viewSort));
    range.start = out.LastEvaluatedKey ? unmarshall(out.LastEvaluatedKey) : undefined;
    range.done = range.start === undefined;
  };
  while (keys.length < limit) {
    const dry = ranges.filter((r) => r.buffer.length === 0 && !r.done);
    if (dry.length > 0) {
      const size = share(dry.length);
      if (size === 0) break;
      await Promise.all(dry.map((r) => fill(r, size)));
    }
    let best: Range | undefined;
    for (const range of ranges) {
      const head = range.buffer[0];
      if (head === undefined) continue;
      const top = best?.buffer[0];
      if (top === undefined || (ascending ? head < top : head > top)) best = range;
    }
    const key = best?.buffer.shift();
    if (key === undefined) break;
    keys.push(key);
  }
  const more = ranges.some((r) => r.buffer.length > 0 || !r.done);
  const devices = await readDevices(dynamo, tableName, realm, keys.map(deviceIdOf));
  return {
    devices: devices.filter((d) => matchesDeviceQuery(d, query)),
    last: more && keys.length > 0 ? keys.at(-1) : undefined,
    scanned,
  };
}

/** A view's sort key ends with the device id (ids never contain `#`). */
const deviceIdOf = (viewSort: string) => viewSort.slice(viewSort.lastIndexOf("#") + 1);

/** The devices of `ids` as recorded, in that order (one that is gone is left out). */
async function readDevices(
  dynamo: DynamoDBClient,
  tableName: string,
  realm: string,
  ids: readonly string[],
): Promise<Device[]> {
  if (ids.length === 0) return [];
  const found = new Map<string, Device>();
  await untilProcessed(
    ids.map((id) => m(deviceKey(realm, id))),
    "keys",
    async (keys) => {
      const out = await aws(() =>
        dynamo.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: keys } } })),
      );
      for (const raw of out.Responses?.[tableName] ?? []) {
        const device = toDevice(unmarshall(raw));
        found.set(device.deviceId, device);
      }
      return (out.UnprocessedKeys?.[tableName]?.Keys ?? []) as typeof keys;
    },
  );
  return ids.flatMap((id) => found.get(id) ?? []);
}

/** A page of a realm's device records in id order on the realm index, after `after`; `last` while more may follow. */
export async function realmDevicesPage(
  dynamo: DynamoDBClient,
  tableName: string,
  realm: string,
  limit: number,
  after: string | undefined,
): Promise<{ items: Item[]; last: string | undefined }> {
  const out = await aws(() =>
    dynamo.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: REALM_INDEX.name,
        KeyConditionExpression: "#realm = :realm",
        ExpressionAttributeNames: { "#realm": REALM_INDEX.partition },
        ExpressionAttributeValues: m({ ":realm": `REALM#${realm}` }),
        Limit: limit,
        ...(after
          ? {
              ExclusiveStartKey: m({
                ...deviceKey(realm, after),
                [REALM_INDEX.partition]: `REALM#${realm}`,
                [REALM_INDEX.sort]: after,
              }),
            }
          : {}),
      }),
    ),
  );
  const last = out.LastEvaluatedKey ? unmarshall(out.LastEvaluatedKey) : undefined;
  return {
    items: (out.Items ?? []).map((raw) => unmarshall(raw)),
    last: last ? String(last[REALM_INDEX.sort]) : undefined,
  };
}
