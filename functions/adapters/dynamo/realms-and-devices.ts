import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import {
  DeviceAlreadyConfirmedError,
  DeviceNotFoundError,
  RealmExistsError,
  RealmNotFoundError,
  RegistrationLimitReachedError,
} from "../../core/errors.ts";
import type { CredentialEvent, Device, Realm } from "../../core/model.ts";
import type { DeviceRegistry, RealmStore, RegisterDeviceInput } from "../../core/ports/device-store.ts";
import { aws } from "../aws-errors.ts";
import { projectViews, reprojectDevice, VIEW_SORT_KEYS } from "./device-views.ts";
import {
  applied,
  DynamoTable,
  deviceKey,
  devicePk,
  eventPut,
  failedConditions,
  fromRealm,
  type Item,
  isDeleted,
  m,
  realmKey,
  sweepShard,
  toDevice,
  toRealm,
  untilProcessed,
} from "./items.ts";

/** Realms, device registration and the issuance slot. */
export class DynamoRealmsAndDevices extends DynamoTable implements RealmStore, DeviceRegistry {
  async getRealm(name: string): Promise<Realm | undefined> {
    const out = await aws(() =>
      // Consistent: issuance reads the realm here (alongside taking the device's slot), and a realm just
      // created or deleted must be seen as it is, as the BatchGetItem of the other device routes does.
      this.dynamo.send(
        new GetItemCommand({ TableName: this.tableName, Key: m(realmKey(name)), ConsistentRead: true }),
      ),
    );
    const item = out.Item ? unmarshall(out.Item) : undefined;
    return item && !isDeleted(item) ? toRealm(item) : undefined;
  }

  async listRealms(): Promise<Realm[]> {
    const items = await this.queryAll({
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: m({ ":pk": "REALMS" }),
    });
    return items.filter((item) => !isDeleted(item)).map(toRealm);
  }

  async createRealm(realm: Realm): Promise<void> {
    const ok = await applied(() =>
      this.dynamo.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: m({ ...realmKey(realm.name), ...fromRealm(realm) }),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    );
    if (!ok) throw new RealmExistsError();
  }

  async deleteRealm(name: string, purgeAt: string): Promise<void> {
    const ok = await applied(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(realmKey(name)),
          // On the sweep index from now on, due at purgeAt.
          UpdateExpression: "SET deletedAt = :at, sweepShard = :shard, deadline = :at",
          ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(deletedAt)",
          ExpressionAttributeValues: m({ ":at": purgeAt, ":shard": sweepShard(name) }),
        }),
      ),
    );
    if (!ok) throw new RealmNotFoundError();
  }

  async removeDeletedRealm(name: string): Promise<void> {
    await applied(() =>
      this.dynamo.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: m(realmKey(name)),
          ConditionExpression: "attribute_exists(deletedAt)",
        }),
      ),
    );
  }

  async updateRealm(realm: Realm): Promise<Realm> {
    const set = [
      "jwtPublicKeyPem = :key",
      "certificateValiditySeconds = :validity",
      "graceSeconds = :grace",
      "issuanceBudgetPerHour = :budget",
      "maxLiveCertificates = :live",
      "indexedMetadataKeys = :indexed",
    ];
    const remove: string[] = [];
    if (realm.brokerUrl) set.push("brokerUrl = :broker");
    else remove.push("brokerUrl");
    if (realm.deviceLimit !== undefined) set.push("deviceLimit = :limit");
    else remove.push("deviceLimit");
    try {
      const out = await aws(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: m(realmKey(realm.name)),
            UpdateExpression: `SET ${set.join(", ")}${remove.length > 0 ? ` REMOVE ${remove.join(", ")}` : ""}`,
            ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(deletedAt)",
            ExpressionAttributeValues: m({
              ":key": realm.jwtPublicKeyPem,
              ":validity": realm.certificateValiditySeconds,
              ":grace": realm.graceSeconds,
              ":budget": realm.issuanceBudgetPerHour,
              ":live": realm.maxLiveCertificates,
              ":indexed": [...realm.indexedMetadataKeys],
              ":broker": realm.brokerUrl,
              ":limit": realm.deviceLimit,
            }),
            ReturnValues: "ALL_NEW",
          }),
        ),
      );
      return toRealm(unmarshall(out.Attributes ?? {}));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new RealmNotFoundError();
      throw error;
    }
  }

  async getRealmAndDevice(realm: string, deviceId: string): Promise<{ realm?: Realm; device?: Device }> {
    const items: Item[] = [];
    await untilProcessed([m(realmKey(realm)), m(deviceKey(realm, deviceId))], "keys", async (keys) => {
      const out = await aws(() =>
        this.dynamo.send(
          new BatchGetItemCommand({
            RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } },
          }),
        ),
      );
      items.push(...(out.Responses?.[this.tableName] ?? []).map((i) => unmarshall(i)));
      return out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    });
    const realmItem = items.find((i) => i.pk === "REALMS" && !isDeleted(i));
    const deviceItem = items.find((i) => i.sk === "DEVICE");
    return {
      ...(realmItem ? { realm: toRealm(realmItem) } : {}),
      ...(deviceItem ? { device: toDevice(deviceItem) } : {}),
    };
  }

  async registerDevice(input: RegisterDeviceInput): Promise<"created" | "renewed"> {
    // The common case first: a device registered for the first time is one write, not a failed renewal too.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.#createDevice(input)) return "created";
      if (await this.#renewPendingDevice(input)) return "renewed";
      // It was deleted between our two writes (a realm purge, a discarded registration): create it again.
    }
    throw new Error("device registration kept racing with another registration");
  }

  /** New secret for an existing, never-confirmed device; false if it does not exist. */
  async #renewPendingDevice(input: RegisterDeviceInput): Promise<boolean> {
    const { realm, deviceId, secretHash, introspection, now } = input;
    try {
      await this.transact([
        {
          Update: {
            TableName: this.tableName,
            Key: m(deviceKey(realm.name, deviceId)),
            UpdateExpression: `SET secretHash = :h, credentialsInhibited = :f${introspection ? ", introspection = :i" : ""} ADD ver :one`,
            ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(firstCredentialsRequest)",
            ExpressionAttributeValues: m({ ":h": secretHash, ":f": false, ":i": introspection, ":one": 1 }),
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          },
        },
        eventPut(this.tableName, {
          realm: realm.name,
          deviceId,
          type: "registered",
          at: now,
          reason: "renewed",
        }),
      ]);
      // It may have been inhibited: a renewed registration is pending again.
      await reprojectDevice(this.dynamo, this.tableName, realm.name, deviceId);
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [device] = error.CancellationReasons ?? [];
      if (device?.Code !== "ConditionalCheckFailed") throw error;
      if (device.Item) throw new DeviceAlreadyConfirmedError();
      return false;
    }
  }

  /** Creates the device and counts it against the realm's limit, atomically; false if it appeared meanwhile. */
  async #createDevice(input: RegisterDeviceInput): Promise<boolean> {
    const { realm, deviceId, secretHash, introspection, now } = input;
    const limited = realm.deviceLimit !== undefined;
    const created = {
      ...deviceKey(realm.name, deviceId),
      realmKey: `REALM#${realm.name}`,
      realm: realm.name,
      deviceId,
      secretHash,
      firstRegistration: now,
      credentialsInhibited: false,
      introspection: introspection ?? {},
      ver: 1,
    };
    try {
      await aws(() =>
        this.dynamo.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.tableName,
                  Item: m(created),
                  ConditionExpression: "attribute_not_exists(pk)",
                },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: m(realmKey(realm.name)),
                  UpdateExpression: "ADD deviceCount :one",
                  ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(deletedAt)${limited ? " AND (attribute_not_exists(deviceCount) OR deviceCount < :limit)" : ""}`,
                  ExpressionAttributeValues: m({
                    ":one": 1,
                    ...(limited ? { ":limit": realm.deviceLimit } : {}),
                  }),
                },
              },
              eventPut(this.tableName, { realm: realm.name, deviceId, type: "registered", at: now }),
            ],
          }),
        ),
      );
      await projectViews(this.dynamo, this.tableName, created, ["status"]);
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [device, realmUpdate] = error.CancellationReasons ?? [];
      if (device?.Code === "ConditionalCheckFailed") return false;
      if (realmUpdate?.Code === "ConditionalCheckFailed") {
        throw limited ? new RegistrationLimitReachedError() : new RealmNotFoundError();
      }
      throw error;
    }
  }

  async discardNewDevice(realm: string, deviceId: string, secretHash: string): Promise<void> {
    try {
      await this.transact([
        {
          Delete: {
            TableName: this.tableName,
            Key: m(deviceKey(realm, deviceId)),
            ConditionExpression: "secretHash = :h AND attribute_not_exists(firstCredentialsRequest)",
            ExpressionAttributeValues: m({ ":h": secretHash }),
          },
        },
        ...VIEW_SORT_KEYS.map((sk) => ({
          Delete: { TableName: this.tableName, Key: m({ pk: devicePk(realm, deviceId), sk }) },
        })),
        {
          Update: {
            TableName: this.tableName,
            Key: m(realmKey(realm)),
            UpdateExpression: "ADD deviceCount :minus",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: m({ ":minus": -1 }),
          },
        },
      ]);
    } catch (error) {
      // Someone registered it again meanwhile (new secret): it is theirs now.
      if (!failedConditions(error)?.[0]) throw error;
    }
  }

  async unregisterDevice(realm: string, deviceId: string, now: string): Promise<void> {
    await this.#updateExistingDevice(
      realm,
      deviceId,
      {
        UpdateExpression:
          "REMOVE secretHash, firstCredentialsRequest, currentSerial, currentNotAfter ADD ver :one",
        ExpressionAttributeValues: m({ ":one": 1 }),
      },
      { realm, deviceId, type: "unregistered", at: now },
      true,
    );
  }

  async setSecretHash(realm: string, deviceId: string, secretHash: string, now: string): Promise<void> {
    await this.#updateExistingDevice(
      realm,
      deviceId,
      { UpdateExpression: "SET secretHash = :h", ExpressionAttributeValues: m({ ":h": secretHash }) },
      { realm, deviceId, type: "secret_rotated", at: now },
    );
  }

  async setCredentialsInhibited(
    realm: string,
    deviceId: string,
    inhibited: boolean,
    now: string,
  ): Promise<void> {
    await this.#updateExistingDevice(
      realm,
      deviceId,
      {
        UpdateExpression: "SET credentialsInhibited = :v ADD ver :one",
        ExpressionAttributeValues: m({ ":v": inhibited, ":one": 1 }),
      },
      { realm, deviceId, type: inhibited ? "inhibited" : "uninhibited", at: now },
      true,
    );
  }

  /** Updates an existing device and records the event, atomically. */
  async #updateExistingDevice(
    realm: string,
    deviceId: string,
    update: { UpdateExpression: string; ExpressionAttributeValues?: ReturnType<typeof m> },
    event: CredentialEvent,
    reproject = false,
  ): Promise<void> {
    try {
      await this.transact([
        {
          Update: {
            TableName: this.tableName,
            Key: m(deviceKey(realm, deviceId)),
            ConditionExpression: "attribute_exists(pk)",
            ...update,
          },
        },
        eventPut(this.tableName, event),
      ]);
      if (reproject) await reprojectDevice(this.dynamo, this.tableName, realm, deviceId);
    } catch (error) {
      if (failedConditions(error)?.[0]) throw new DeviceNotFoundError();
      throw error;
    }
  }
}
