import { QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { CredentialEvent } from "../../core/model.ts";
import type { DevicePage, FleetView, PresenceUpdate } from "../../core/ports/device-store.ts";
import { aws } from "../aws-errors.ts";
import { REALM_INDEX } from "../table-schema.ts";

import { applied, DynamoTable, deviceKey, devicePk, m, toDevice } from "./items.ts";

/** Presence, metadata, the realm's device list and timelines. */
export class DynamoFleet extends DynamoTable implements FleetView {
  async recordPresence(realm: string, deviceId: string, presence: PresenceUpdate): Promise<boolean> {
    const stamp = presence.connected ? "lastConnection" : "lastDisconnection";
    return applied(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(deviceKey(realm, deviceId)),
          UpdateExpression: `SET connected = :c, ${stamp} = :at, presenceAt = :at${presence.ip ? ", lastSeenIp = :ip" : ""}`,
          // Lifecycle events may arrive out of order: an older one never overwrites a newer one.
          ConditionExpression:
            "attribute_exists(pk) AND (attribute_not_exists(presenceAt) OR presenceAt <= :at)",
          ExpressionAttributeValues: m({
            ":c": presence.connected,
            ":at": presence.at,
            ":ip": presence.ip,
          }),
        }),
      ),
    );
  }

  async setMetadata(
    realm: string,
    deviceId: string,
    metadata: Readonly<Record<string, string | number | boolean>>,
  ): Promise<boolean> {
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

  async listDevices(realm: string, limit: number, after: string | undefined): Promise<DevicePage> {
    const out = await aws(() =>
      this.dynamo.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: REALM_INDEX.name,
          KeyConditionExpression: "#realm = :realm",
          ExpressionAttributeNames: { "#realm": REALM_INDEX.partition },
          ExpressionAttributeValues: m({ ":realm": `REALM#${realm}` }),
          Limit: limit,
          ...(after
            ? {
                ExclusiveStartKey: m({
                  ...deviceKey(realm, after),
                  realmKey: `REALM#${realm}`,
                  deviceId: after,
                }),
              }
            : {}),
        }),
      ),
    );
    const devices = (out.Items ?? []).map((item) => toDevice(unmarshall(item)));
    const last = out.LastEvaluatedKey ? unmarshall(out.LastEvaluatedKey) : undefined;
    return { devices, next: last ? String(last.deviceId) : undefined };
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
