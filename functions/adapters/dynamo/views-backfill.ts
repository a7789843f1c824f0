import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { indexedMetadataOf } from "../../core/device-query.ts";
import { aws } from "../aws-errors.ts";
import { projectViews, realmDevicesPage } from "./device-views.ts";
import { deviceKey, devicePk, type Item, m, realmKey } from "./items.ts";

/**
 * Where a realm's backfill stands: `pk` VIEWS, `sk` the realm's name, `after` the last device id visited, `version`
 * the backfill's (a stage upgraded again walks its devices once more for what the new version adds) and `keys` the
 * realm's indexed metadata keys it walks for (a realm that changes them is walked again).
 */
const backfillKey = (realm: string) => ({ pk: "VIEWS", sk: realm });
/** 1: the status and presence views; 2: the expiry view, which needs the current certificate's expiry on the record. */
const BACKFILL_VERSION = 2;

/**
 * Gives views to up to `limit` devices of the realm that lack them, from where the last call stopped, and keeps
 * that place in the table: a realm's devices are visited once per backfill version and set of indexed metadata
 * keys, in id order, on the realm index. Lacking: a record with no version (registered before the device search),
 * with a current certificate whose expiry it does not carry (issued before the expiry view), or whose indexed
 * metadata is not its metadata under the realm's indexed keys (recorded before the realm changed them). A device
 * that changed since has its views already (every change projects them), and its write's condition leaves it alone.
 * True once the realm is done.
 */
export async function backfillViews(
  dynamo: DynamoDBClient,
  tableName: string,
  realm: string,
  limit: number,
): Promise<{ projected: number; done: boolean }> {
  const place = await aws(() =>
    dynamo.send(
      new GetItemCommand({ TableName: tableName, Key: m(backfillKey(realm)), ConsistentRead: true }),
    ),
  );
  const state = place.Item ? unmarshall(place.Item) : {};
  const realmItem = await aws(() =>
    dynamo.send(new GetItemCommand({ TableName: tableName, Key: m(realmKey(realm)), ConsistentRead: true })),
  );
  const found = realmItem.Item ? unmarshall(realmItem.Item).indexedMetadataKeys : undefined;
  const keys: string[] = Array.isArray(found) ? found.map(String) : [];
  const current = state.version === BACKFILL_VERSION && (state.keys ?? "") === keys.join(",");
  if (current && state.done === true) return { projected: 0, done: true };
  const after = current && typeof state.after === "string" ? state.after : undefined;
  const page = await realmDevicesPage(dynamo, tableName, realm, limit, after);
  const stale = page.items.filter(
    (item) =>
      item.ver === undefined ||
      (item.currentSerial !== undefined && item.currentNotAfter === undefined) ||
      wantedIndex(item, keys) !== undefined,
  );
  let projected = 0;
  for (let i = 0; i < stale.length; i += 10) {
    await Promise.all(
      stale.slice(i, i + 10).map(async (item) => {
        const updated = await backfillRecord(dynamo, tableName, item, wantedIndex(item, keys));
        if (updated) {
          await projectViews(dynamo, tableName, updated, ["status"]);
          projected++;
        }
      }),
    );
  }
  const last = page.last;
  await aws(() =>
    dynamo.send(
      new PutItemCommand({
        TableName: tableName,
        Item: m({
          ...backfillKey(realm),
          kind: "views-backfill",
          version: BACKFILL_VERSION,
          keys: keys.join(","),
          ...(last ? { after: last } : { done: true }),
        }),
      }),
    ),
  );
  return { projected, done: last === undefined };
}

/**
 * Versions a record the backfill found lacking, with its current certificate's expiry when it has one; the record
 * as written, or undefined when it changed since it was read (the change projected its views).
 */
async function backfillRecord(
  dynamo: DynamoDBClient,
  tableName: string,
  item: Item,
  indexed: Record<string, string> | undefined,
): Promise<Item | undefined> {
  const realm = String(item.realm);
  const deviceId = String(item.deviceId);
  const serial = item.currentSerial === undefined ? undefined : String(item.currentSerial);
  let notAfter: string | undefined;
  if (serial !== undefined) {
    const cert = await aws(() =>
      dynamo.send(
        new GetItemCommand({
          TableName: tableName,
          Key: m({ pk: devicePk(realm, deviceId), sk: `CERT#${serial}` }),
          ConsistentRead: true,
        }),
      ),
    );
    notAfter = cert.Item ? String(unmarshall(cert.Item).notAfter) : undefined;
  }
  try {
    const out = await aws(() =>
      dynamo.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: m(deviceKey(realm, deviceId)),
          UpdateExpression: `${setting([
            notAfter ? "currentNotAfter = :na" : "",
            indexed ? "indexedMetadata = :i" : "",
          ])}ADD ver :one`,
          // As read: the same version (or none) and current certificate.
          ConditionExpression: [
            "attribute_exists(pk)",
            item.ver === undefined ? "attribute_not_exists(ver)" : "ver = :ver",
            serial === undefined ? "attribute_not_exists(currentSerial)" : "currentSerial = :serial",
          ].join(" AND "),
          ExpressionAttributeValues: m({
            ":one": 1,
            ":na": notAfter,
            ":i": indexed,
            ":ver": item.ver,
            ":serial": serial,
          }),
          ReturnValues: "ALL_NEW",
        }),
      ),
    );
    return out.Attributes ? unmarshall(out.Attributes) : undefined;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

const setting = (parts: string[]) => {
  const set = parts.filter(Boolean);
  return set.length > 0 ? `SET ${set.join(", ")} ` : "";
};

/**
 * The indexed metadata a device's record should carry and does not (undefined when it is right): its metadata
 * under the realm's indexed keys, for a realm that indexes some or a device indexed before.
 */
function wantedIndex(item: Item, keys: readonly string[]): Record<string, string> | undefined {
  const recorded = item.indexedMetadata as Record<string, string> | undefined;
  if (keys.length === 0 && recorded === undefined) return undefined;
  const wanted = indexedMetadataOf(
    item.metadata as Record<string, string | number | boolean> | undefined,
    keys,
  );
  const same =
    recorded !== undefined &&
    Object.keys(recorded).length === Object.keys(wanted).length &&
    Object.entries(wanted).every(([k, v]) => recorded[k] === v);
  return same ? undefined : wanted;
}
