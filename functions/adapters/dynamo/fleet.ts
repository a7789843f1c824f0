import { QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type DeviceQuery,
  type DeviceSearchPage,
  decodePageToken,
  encodePageToken,
} from "../../core/device-query.ts";
import type { CredentialEvent } from "../../core/model.ts";
import type { DevicePage, FleetView, PresenceUpdate } from "../../core/ports/device-store.ts";
import { aws } from "../aws-errors.ts";
import { projectViews, realmDevicesPage, searchViews } from "./device-views.ts";
import { applied, DynamoTable, deviceKey, devicePk, m, toDevice } from "./items.ts";
import { backfillViews } from "./views-backfill.ts";

/** Presence, metadata, the realm's device list and timelines. */
export class DynamoFleet extends DynamoTable implements FleetView {
  async recordPresence(realm: string, deviceId: string, presence: PresenceUpdate): Promise<boolean> {
    const stamp = presence.connected ? "lastConnection" : "lastDisconnection";
    let updated: Record<string, unknown> | undefined;
    const recorded = await applied(async () => {
      const out = await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(deviceKey(realm, deviceId)),
          UpdateExpression: `SET connected = :c, ${stamp} = :at, presenceAt = :at${presence.ip ? ", lastSeenIp = :ip" : ""} ADD ver :one`,
          // Lifecycle events may arrive out of order: an older one never overwrites a newer one.
          ConditionExpression:
            "attribute_exists(pk) AND (attribute_not_exists(presenceAt) OR presenceAt <= :at)",
          ExpressionAttributeValues: m({
            ":c": presence.connected,
            ":at": presence.at,
            ":ip": presence.ip,
            ":one": 1,
          }),
          ReturnValues: "ALL_NEW",
        }),
      );
      updated = out.Attributes ? unmarshall(out.Attributes) : undefined;
    });
    // The record as this write left it: its presence view follows (one put, on one of the realm's shards).
    if (updated) await projectViews(this.dynamo, this.tableName, updated, ["presence"]);
    return recorded;
  }

  async setMetadata(
    realm: string,
    deviceId: string,
    metadata: Readonly<Record<string, string | number | boolean>>,
    indexed?: Readonly<Record<string, string>>,
  ): Promise<boolean> {
    if (indexed === undefined) {
      return applied(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: m(deviceKey(realm, deviceId)),
            UpdateExpression: "SET metadata = :m",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: m({ ":m": metadata }),
          }),
        ),
      );
    }
    // With its indexed metadata, versioned: the metadata views follow (dynamo/device-views.ts).
    let updated: Record<string, unknown> | undefined;
    const recorded = await applied(async () => {
      const out = await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(deviceKey(realm, deviceId)),
          UpdateExpression: "SET metadata = :m, indexedMetadata = :i ADD ver :one",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: m({ ":m": metadata, ":i": indexed, ":one": 1 }),
          ReturnValues: "ALL_NEW",
        }),
      );
      updated = out.Attributes ? unmarshall(out.Attributes) : undefined;
    });
    if (recorded && updated) await projectViews(this.dynamo, this.tableName, updated, ["metadata"]);
    return recorded;
  }

  async listDevices(realm: string, limit: number, after: string | undefined): Promise<DevicePage> {
    const page = await realmDevicesPage(this.dynamo, this.tableName, realm, limit, after);
    return { devices: page.items.map(toDevice), next: page.last };
  }

  async searchDevices(
    realm: string,
    query: DeviceQuery,
    limit: number,
    token: string | undefined,
  ): Promise<DeviceSearchPage> {
    const after = token === undefined ? undefined : decodePageToken(query, token);
    const page = await searchViews(this.dynamo, this.tableName, realm, query, limit, after);
    return {
      devices: page.devices,
      next: page.last === undefined ? undefined : encodePageToken(query, page.last),
      scanned: page.scanned,
    };
  }

  backfillViews(realm: string, limit: number): Promise<{ projected: number; done: boolean }> {
    return backfillViews(this.dynamo, this.tableName, realm, limit);
  }

  async listEvents(realm: string, deviceId: string, limit: number): Promise<CredentialEvent[]> {
    const out = await aws(() =>
      this.dynamo.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :event)",
          ExpressionAttributeValues: m({ ":pk": devicePk(realm, deviceId), ":event": "EVENT#" }),
          ScanIndexForward: false,
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []).map((raw) => {
      const item = unmarshall(raw);
      return {
        realm: String(item.realm),
        deviceId: String(item.deviceId),
        type: item.type as CredentialEvent["type"],
        at: String(item.at),
        serial: item.serial ? String(item.serial) : undefined,
        reason: item.reason ? String(item.reason) : undefined,
      };
    });
  }
}
