import { createHash, randomBytes } from "node:crypto";
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  DEVICE_ALREADY_REGISTERED,
  DeviceNotFoundError,
  REGISTRATION_LIMIT_REACHED,
  RealmExistsError,
  RealmNotFoundError,
  UnprocessableError,
} from "../core/errors.ts";
import {
  type CertificateRecord,
  type CredentialEvent,
  DEFAULT_ISSUANCE_BUDGET_PER_HOUR,
  DEFAULT_MAX_LIVE_CERTIFICATES,
  type Device,
  type IssuanceIntent,
  type Realm,
  type RetiredReason,
} from "../core/model.ts";
import {
  type BeginIssuanceInput,
  type BeginIssuanceResult,
  ConcurrentIssuanceError,
  type DevicePage,
  type DeviceStore,
  type DueItem,
  type EndIssuanceInput,
  type PresenceUpdate,
  type RecordIssuanceInput,
  type RegisterDeviceInput,
  type RollbackIssuanceInput,
} from "../core/ports/device-store.ts";
import { aws } from "./aws-errors.ts";
import { REALM_INDEX, SWEEP_INDEX, SWEEP_SHARDS, TTL_ATTRIBUTE } from "./table-schema.ts";

type Item = Record<string, unknown>;

const realmKey = (name: string) => ({ pk: "REALMS", sk: name });
const devicePk = (realm: string, deviceId: string) => `DEVICE#${realm}#${deviceId}`;
const deviceKey = (realm: string, deviceId: string) => ({ pk: devicePk(realm, deviceId), sk: "DEVICE" });
const certKey = (realm: string, deviceId: string, serial: string) => ({
  pk: devicePk(realm, deviceId),
  sk: `CERT#${serial}`,
});
/** Certificates are found by the sweeper through (shard, deadline); the shard spreads a fleet's writes. */
const sweepShard = (deviceId: string) =>
  `SWEEP#${createHash("sha256").update(deviceId).digest().readUInt8(0) % SWEEP_SHARDS}`;
const intentKey = (intent: Pick<IssuanceIntent, "realm" | "deviceId" | "requestId">) => ({
  pk: devicePk(intent.realm, intent.deviceId),
  sk: `INTENT#${intent.requestId}`,
});

/**
 * Marshalls an item. Maps a client fills (introspection, metadata) are null-prototype objects, which the
 * marshaller would otherwise refuse as class instances.
 */
const m = (value: Item) => marshall(value, { removeUndefinedValues: true, convertClassInstanceToMap: true });

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteItemsCommand>[0]["TransactItems"]>;
type TransactItem = TransactItems[number];

/** Timeline entries live this long. */
const EVENT_TTL_SECONDS = 90 * 24 * 3600;
/** Records of retired certificates stay (for verify's REVOKED/EXPIRED answers) this long past notAfter. */
const RETIRED_TTL_SECONDS = 30 * 24 * 3600;
const epochSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/**
 * The Put that records one credential event under its device (the outbox). `order` keeps events of one
 * transaction (same timestamp) in the order they happened.
 */
function eventPut(tableName: string, event: CredentialEvent, order = 0): TransactItem {
  return {
    Put: {
      TableName: tableName,
      Item: m({
        pk: devicePk(event.realm, event.deviceId),
        sk: `EVENT#${event.at}#${order}#${randomBytes(4).toString("hex")}`,
        kind: "event",
        ...event,
        // Always written (empty when the event has none): the Pipe's input template reads every field, and a
        // missing path is then never a question (infra/constructs/credential-events.ts).
        serial: event.serial ?? "",
        reason: event.reason ?? "",
        [TTL_ATTRIBUTE]: epochSeconds(event.at) + EVENT_TTL_SECONDS,
      }),
    },
  };
}

/** Runs a conditional write: true if it was applied, false if its condition did not hold. */
async function applied(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await aws(write);
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/**
 * Sends a batch (BatchGetItem, BatchWriteItem) until DynamoDB has processed all of it, backing off between
 * rounds; `send` resolves to what was left unprocessed.
 */
async function untilProcessed<T>(
  pending: T[],
  what: string,
  send: (batch: T[]) => Promise<T[]>,
): Promise<void> {
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 6) throw new Error(`DynamoDB left ${what} unprocessed`);
    if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
    pending = await send(pending);
  }
}

/** Which transaction items failed their condition. */
function failedConditions(error: unknown): boolean[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((r) => r.Code === "ConditionalCheckFailed");
}

/**
 * DeviceStore on one DynamoDB table (keys in table-schema.ts). Every state change is a conditional write
 * or a transaction, so concurrent requests can neither register a device twice nor leave two current
 * certificates.
 */
export class DynamoDeviceStore implements DeviceStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

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
      if (await this.createDevice(input)) return "created";
      if (await this.renewPendingDevice(input)) return "renewed";
      // It was deleted between our two writes (a realm purge, a discarded registration): create it again.
    }
    throw new Error("device registration kept racing with another registration");
  }

  /** New secret for an existing, never-confirmed device; false if it does not exist. */
  private async renewPendingDevice(input: RegisterDeviceInput): Promise<boolean> {
    const { realm, deviceId, secretHash, introspection, now } = input;
    try {
      await this.transact([
        {
          Update: {
            TableName: this.tableName,
            Key: m(deviceKey(realm.name, deviceId)),
            UpdateExpression: `SET secretHash = :h, credentialsInhibited = :f${introspection ? ", introspection = :i" : ""}`,
            ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(firstCredentialsRequest)",
            ExpressionAttributeValues: m({ ":h": secretHash, ":f": false, ":i": introspection }),
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
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [device] = error.CancellationReasons ?? [];
      if (device?.Code !== "ConditionalCheckFailed") throw error;
      if (device.Item) throw new UnprocessableError(DEVICE_ALREADY_REGISTERED);
      return false;
    }
  }

  /** Creates the device and counts it against the realm's limit, atomically; false if it appeared meanwhile. */
  private async createDevice(input: RegisterDeviceInput): Promise<boolean> {
    const { realm, deviceId, secretHash, introspection, now } = input;
    const limited = realm.deviceLimit !== undefined;
    try {
      await aws(() =>
        this.dynamo.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.tableName,
                  Item: m({
                    ...deviceKey(realm.name, deviceId),
                    realmKey: `REALM#${realm.name}`,
                    realm: realm.name,
                    deviceId,
                    secretHash,
                    firstRegistration: now,
                    credentialsInhibited: false,
                    introspection: introspection ?? {},
                  }),
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
      return true;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [device, realmUpdate] = error.CancellationReasons ?? [];
      if (device?.Code === "ConditionalCheckFailed") return false;
      if (realmUpdate?.Code === "ConditionalCheckFailed") {
        throw limited ? new UnprocessableError(REGISTRATION_LIMIT_REACHED) : new RealmNotFoundError();
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
    await this.updateExistingDevice(
      realm,
      deviceId,
      { UpdateExpression: "REMOVE secretHash, firstCredentialsRequest, currentSerial" },
      { realm, deviceId, type: "unregistered", at: now },
    );
  }

  async setSecretHash(realm: string, deviceId: string, secretHash: string, now: string): Promise<void> {
    await this.updateExistingDevice(
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
    await this.updateExistingDevice(
      realm,
      deviceId,
      {
        UpdateExpression: "SET credentialsInhibited = :v",
        ExpressionAttributeValues: m({ ":v": inhibited }),
      },
      { realm, deviceId, type: inhibited ? "inhibited" : "uninhibited", at: now },
    );
  }

  /** Updates an existing device and records the event, atomically. */
  private async updateExistingDevice(
    realm: string,
    deviceId: string,
    update: { UpdateExpression: string; ExpressionAttributeValues?: ReturnType<typeof m> },
    event: CredentialEvent,
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
    } catch (error) {
      if (failedConditions(error)?.[0]) throw new DeviceNotFoundError();
      throw error;
    }
  }

  /** Every item a query matches, page after page. */
  private async queryAll(
    input: Omit<ConstructorParameters<typeof QueryCommand>[0], "TableName">,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, never> | undefined;
    do {
      const page = await aws(() =>
        this.dynamo.send(
          new QueryCommand({
            TableName: this.tableName,
            ...input,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      for (const item of page.Items ?? []) items.push(unmarshall(item));
      start = page.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start);
    return items;
  }

  private async transact(items: TransactItems): Promise<void> {
    await aws(() => this.dynamo.send(new TransactWriteItemsCommand({ TransactItems: items })));
  }

  /** The device's items whose sort key starts with `prefix` (every item without one), read consistently. */
  private deviceItems(
    realm: string,
    deviceId: string,
    prefix?: string,
    projection?: string,
  ): Promise<Item[]> {
    return this.queryAll({
      KeyConditionExpression: prefix ? "pk = :pk AND begins_with(sk, :prefix)" : "pk = :pk",
      ExpressionAttributeValues: m({ ":pk": devicePk(realm, deviceId), ":prefix": prefix }),
      ...(projection ? { ProjectionExpression: projection } : {}),
      ConsistentRead: true,
    });
  }

  async beginIssuance(input: BeginIssuanceInput): Promise<BeginIssuanceResult> {
    try {
      const out = await aws(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: m(deviceKey(input.realm, input.deviceId)),
            UpdateExpression: "SET issuanceLease = :lease",
            // Never creates an item: a device without this secret (or without any) fails the first term.
            ConditionExpression:
              "secretHash = :secret AND credentialsInhibited = :false" +
              " AND (attribute_not_exists(issuanceLease) OR issuanceLease <= :now)" +
              " AND (attribute_not_exists(issuanceAdmitAt) OR issuanceAdmitAt <= :now OR lastIssuanceKey = :key)",
            ExpressionAttributeValues: m({
              ":lease": input.leaseUntil,
              ":secret": input.secretHash,
              ":false": false,
              ":now": input.now,
              ":key": input.key,
            }),
            ReturnValues: "ALL_OLD",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        ),
      );
      return { acquired: true, device: out.Attributes ? toDevice(unmarshall(out.Attributes)) : undefined };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { acquired: false, device: error.Item ? toDevice(unmarshall(error.Item)) : undefined };
    }
  }

  async endIssuance(input: EndIssuanceInput): Promise<void> {
    const { charge } = input;
    await applied(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(deviceKey(input.realm, input.deviceId)),
          UpdateExpression: charge
            ? "SET issuanceTat = :tat, issuanceAdmitAt = :admit, lastIssuanceKey = :key REMOVE issuanceLease"
            : "REMOVE issuanceLease",
          // Only our own slot: one that expired and was taken by another request is theirs.
          ConditionExpression: "issuanceLease = :lease",
          ExpressionAttributeValues: m({
            ":lease": input.lease,
            ...(charge ? { ":tat": charge.tat, ":admit": charge.admitAt, ":key": charge.key } : {}),
          }),
        }),
      ),
    );
  }

  async listCertificates(realm: string, deviceId: string): Promise<CertificateRecord[]> {
    return (await this.deviceItems(realm, deviceId, "CERT#")).map(toCertificate);
  }

  async getCertificate(
    realm: string,
    deviceId: string,
    serial: string,
  ): Promise<CertificateRecord | undefined> {
    const out = await aws(() =>
      this.dynamo.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: m(certKey(realm, deviceId, serial)),
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? toCertificate(unmarshall(out.Item)) : undefined;
  }

  async recordIssuance(input: RecordIssuanceInput): Promise<void> {
    const {
      certificate: c,
      expectedCurrentSerial,
      superseded,
      requestIp,
      now,
      intentRequestId,
      secretHash,
      lease,
      charge,
      graceCuts,
    } = input;
    const items: TransactItems = [
      {
        Put: {
          TableName: this.tableName,
          Item: m({
            ...certKey(c.realm, c.deviceId, c.serial),
            ...fromCertificate(c),
            sweepShard: sweepShard(c.deviceId),
            deadline: c.notAfter,
          }),
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: m(deviceKey(c.realm, c.deviceId)),
          UpdateExpression: `SET currentSerial = :serial, firstCredentialsRequest = if_not_exists(firstCredentialsRequest, :now), issuanceTat = :tat, issuanceAdmitAt = :admit, lastIssuanceKey = :key${requestIp ? ", lastCredentialsRequestIp = :ip" : ""} REMOVE issuanceLease`,
          // Fenced on the secret the request authenticated with (unregistration, re-registration and rotation
          // all change it), not inhibited, still holding its issuance slot, and nobody else made a certificate
          // current since we read it. The budget is charged and the slot released in the same write.
          ConditionExpression: `secretHash = :secret AND credentialsInhibited = :false AND issuanceLease = :lease AND ${
            expectedCurrentSerial ? "currentSerial = :expected" : "attribute_not_exists(currentSerial)"
          }`,
          ExpressionAttributeValues: m({
            ":serial": c.serial,
            ":now": now,
            ":false": false,
            ":secret": secretHash,
            ":lease": lease,
            ":tat": charge.tat,
            ":admit": charge.admitAt,
            ":key": charge.key,
            ...(requestIp ? { ":ip": requestIp } : {}),
            ...(expectedCurrentSerial ? { ":expected": expectedCurrentSerial } : {}),
          }),
        },
      },
    ];
    items.push(
      { Delete: { TableName: this.tableName, Key: m(intentKey({ ...c, requestId: intentRequestId })) } },
      eventPut(this.tableName, {
        realm: c.realm,
        deviceId: c.deviceId,
        type: "issued",
        at: now,
        serial: c.serial,
      }),
    );
    if (superseded) {
      items.push(
        eventPut(
          this.tableName,
          {
            realm: c.realm,
            deviceId: c.deviceId,
            type: "superseded",
            at: now,
            serial: superseded.serial,
            reason: `grace until ${superseded.graceUntil}`,
          },
          1,
        ),
      );
      items.push({
        Update: {
          TableName: this.tableName,
          Key: m(certKey(c.realm, c.deviceId, superseded.serial)),
          UpdateExpression: "SET #state = :superseded, graceUntil = :grace, deadline = :grace",
          ConditionExpression: "#state = :current",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: m({
            ":superseded": "superseded",
            ":current": "current",
            ":grace": superseded.graceUntil,
          }),
        },
      });
    }
    // The cap on live certificates: these lose the rest of their grace and are due for the sweeper now.
    for (const serial of graceCuts) {
      items.push(
        {
          Update: {
            TableName: this.tableName,
            Key: m(certKey(c.realm, c.deviceId, serial)),
            UpdateExpression: "SET graceUntil = :now, deadline = :now",
            ConditionExpression: "#state = :superseded",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: m({ ":now": now, ":superseded": "superseded" }),
          },
        },
        eventPut(
          this.tableName,
          {
            realm: c.realm,
            deviceId: c.deviceId,
            type: "superseded",
            at: now,
            serial,
            reason: "grace cut: too many live certificates",
          },
          2,
        ),
      );
    }
    try {
      await aws(() => this.dynamo.send(new TransactWriteItemsCommand({ TransactItems: items })));
    } catch (error) {
      if (error instanceof TransactionCanceledException) throw new ConcurrentIssuanceError({ cause: error });
      throw error;
    }
  }

  async rollbackIssuance(input: RollbackIssuanceInput): Promise<void> {
    const { certificate: c, restoredCurrentSerial, unconfirm, intent, intentDeadline } = input;
    const removals = [
      ...(restoredCurrentSerial ? [] : ["currentSerial"]),
      ...(unconfirm ? ["firstCredentialsRequest"] : []),
    ];
    const items: TransactItems = [
      {
        Delete: {
          TableName: this.tableName,
          Key: m(certKey(c.realm, c.deviceId, c.serial)),
          ConditionExpression: "#state = :current",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: m({ ":current": "current" }),
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: m(deviceKey(c.realm, c.deviceId)),
          UpdateExpression: [
            restoredCurrentSerial ? "SET currentSerial = :restored" : "",
            removals.length > 0 ? `REMOVE ${removals.join(", ")}` : "",
          ]
            .filter(Boolean)
            .join(" "),
          ConditionExpression: "currentSerial = :serial",
          ExpressionAttributeValues: m({
            ":serial": c.serial,
            ...(restoredCurrentSerial ? { ":restored": restoredCurrentSerial } : {}),
          }),
        },
      },
    ];
    items.push({ Put: { TableName: this.tableName, Item: this.intentItem(intent, intentDeadline) } });
    if (restoredCurrentSerial) {
      const previous = await this.getCertificate(c.realm, c.deviceId, restoredCurrentSerial);
      items.push({
        Update: {
          TableName: this.tableName,
          Key: m(certKey(c.realm, c.deviceId, restoredCurrentSerial)),
          UpdateExpression: "SET #state = :current, deadline = :notAfter REMOVE graceUntil",
          ConditionExpression: "#state = :superseded",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: m({
            ":current": "current",
            ":superseded": "superseded",
            ":notAfter": previous?.notAfter ?? c.notAfter,
          }),
        },
      });
    }
    try {
      await aws(() => this.dynamo.send(new TransactWriteItemsCommand({ TransactItems: items })));
    } catch (error) {
      // A newer issuance already moved the device on: nothing of ours is left to undo.
      if (!(error instanceof TransactionCanceledException)) throw error;
    }
  }

  async markRevoked(realm: string, deviceId: string, serials: readonly string[], now: string): Promise<void> {
    await Promise.all(
      serials.map((serial) =>
        this.transact([
          {
            Update: {
              TableName: this.tableName,
              Key: m(certKey(realm, deviceId, serial)),
              // Due for the sweeper now: it takes the certificate out of IoT and revokes it in the CA.
              UpdateExpression: "SET #state = :revoked, deadline = :now, sweepShard = :shard",
              ConditionExpression: "attribute_exists(pk) AND #state IN (:current, :superseded)",
              ExpressionAttributeNames: { "#state": "state" },
              ExpressionAttributeValues: m({
                ":revoked": "revoked",
                ":current": "current",
                ":superseded": "superseded",
                ":now": now,
                ":shard": sweepShard(deviceId),
              }),
            },
          },
          eventPut(this.tableName, { realm, deviceId, type: "revoked", at: now, serial }),
        ]).catch((error: unknown) => {
          if (!failedConditions(error)?.[0]) throw error;
        }),
      ),
    );
    // A revoked certificate is no longer the device's current one; the next issuance supersedes nothing.
    await this.clearCurrentSerial(realm, deviceId, serials);
  }

  /** Takes away the device's current certificate if it is one of `serials` (else leaves it alone). */
  private async clearCurrentSerial(
    realm: string,
    deviceId: string,
    serials: readonly string[],
  ): Promise<void> {
    if (serials.length === 0) return;
    await applied(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(deviceKey(realm, deviceId)),
          UpdateExpression: "REMOVE currentSerial",
          ConditionExpression: `currentSerial IN (${serials.map((_, i) => `:s${i}`).join(", ")})`,
          ExpressionAttributeValues: m(Object.fromEntries(serials.map((s, i) => [`:s${i}`, s]))),
        }),
      ),
    );
  }

  async putIntent(intent: IssuanceIntent, deadline: string): Promise<void> {
    await aws(() =>
      this.dynamo.send(
        new PutItemCommand({ TableName: this.tableName, Item: this.intentItem(intent, deadline) }),
      ),
    );
  }

  private intentItem(intent: IssuanceIntent, deadline: string) {
    return m({
      ...intentKey(intent),
      kind: "intent",
      ...intent,
      sweepShard: sweepShard(intent.deviceId),
      deadline,
      [TTL_ATTRIBUTE]: epochSeconds(deadline) + EVENT_TTL_SECONDS,
    });
  }

  async setIntentCertificate(intent: IssuanceIntent, certificateRef: string): Promise<void> {
    // Conditional: if the issuance already finished and deleted the intent, do not bring it back.
    // If the issuance already finished and deleted the intent, there is nothing to add to.
    await applied(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(intentKey(intent)),
          UpdateExpression: "SET certificateRef = :ref",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: m({ ":ref": certificateRef }),
        }),
      ),
    );
  }

  async deleteIntent(intent: IssuanceIntent): Promise<void> {
    await aws(() =>
      this.dynamo.send(new DeleteItemCommand({ TableName: this.tableName, Key: m(intentKey(intent)) })),
    );
  }

  async listHoldings(
    realm: string,
    deviceId: string,
  ): Promise<{ certificates: CertificateRecord[]; intents: IssuanceIntent[] }> {
    const items = await this.deviceItems(realm, deviceId);
    const withPrefix = (prefix: string) => items.filter((i) => String(i.sk).startsWith(prefix));
    return {
      certificates: withPrefix("CERT#").map(toCertificate),
      intents: withPrefix("INTENT#").map(toIntent),
    };
  }

  async purgeDevice(realm: string, deviceId: string): Promise<void> {
    const keys = await this.deviceItems(realm, deviceId, undefined, "pk, sk");
    for (let i = 0; i < keys.length; i += 25) {
      const requests = keys.slice(i, i + 25).map((key) => ({ DeleteRequest: { Key: m(key) } }));
      await untilProcessed(requests, "deletes", async (batch) => {
        const out = await aws(() =>
          this.dynamo.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: batch } })),
        );
        return (out.UnprocessedItems?.[this.tableName] ?? []) as typeof batch;
      });
    }
  }

  async findDue(shard: number, now: string, limit: number): Promise<DueItem[]> {
    const out = await aws(() =>
      this.dynamo.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: SWEEP_INDEX.name,
          KeyConditionExpression: "#shard = :shard AND #deadline <= :now",
          ExpressionAttributeNames: { "#shard": SWEEP_INDEX.partition, "#deadline": SWEEP_INDEX.sort },
          ExpressionAttributeValues: m({ ":shard": `SWEEP#${shard}`, ":now": now }),
          Limit: limit,
        }),
      ),
    );
    return (out.Items ?? []).map((raw): DueItem => {
      const item = unmarshall(raw);
      if (item.pk === "REALMS") return { kind: "realm", realm: String(item.sk) };
      return item.kind === "intent"
        ? { kind: "intent", intent: toIntent(item) }
        : { kind: "certificate", record: toCertificate(item) };
    });
  }

  async retireCertificate(record: CertificateRecord, reason: RetiredReason, now: string): Promise<boolean> {
    const items: TransactItems = [
      {
        Update: {
          TableName: this.tableName,
          Key: m(certKey(record.realm, record.deviceId, record.serial)),
          UpdateExpression:
            "SET #state = :retired, retiredReason = :reason, #ttl = :ttl REMOVE sweepShard, deadline",
          ConditionExpression: "#state = :seen",
          ExpressionAttributeNames: { "#state": "state", "#ttl": TTL_ATTRIBUTE },
          ExpressionAttributeValues: m({
            ":retired": "retired",
            ":reason": reason,
            ":seen": record.state,
            ":ttl": epochSeconds(record.notAfter) + RETIRED_TTL_SECONDS,
          }),
        },
      },
    ];
    // Revocation and supersession were recorded when they happened; expiry happens now.
    if (reason === "expired") {
      items.push(
        eventPut(this.tableName, {
          realm: record.realm,
          deviceId: record.deviceId,
          type: "expired",
          at: now,
          serial: record.serial,
        }),
      );
    }
    try {
      await this.transact(items);
    } catch (error) {
      if (failedConditions(error)?.[0]) return false;
      throw error;
    }
    // An expired current certificate leaves the device with none; the next issuance supersedes nothing.
    if (record.state === "current")
      await this.clearCurrentSerial(record.realm, record.deviceId, [record.serial]);
    return true;
  }

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

function toIntent(item: Item): IssuanceIntent {
  return {
    realm: String(item.realm),
    deviceId: String(item.deviceId),
    requestId: String(item.requestId),
    createdAt: String(item.createdAt),
    certificateRef: item.certificateRef === undefined ? undefined : String(item.certificateRef),
  };
}

function fromRealm(realm: Realm): Item {
  return { kind: "realm", ...realm };
}

/** A deleted realm's record stays (unknown to the APIs) until the sweeper has purged its devices. */
const isDeleted = (item: Item) => item.deletedAt !== undefined;

function toRealm(item: Item): Realm {
  return {
    name: String(item.name),
    jwtPublicKeyPem: String(item.jwtPublicKeyPem),
    brokerUrl: item.brokerUrl === undefined ? undefined : String(item.brokerUrl),
    certificateValiditySeconds: Number(item.certificateValiditySeconds),
    graceSeconds: Number(item.graceSeconds),
    deviceLimit: item.deviceLimit === undefined ? undefined : Number(item.deviceLimit),
    // Realms created before these settings existed get the defaults.
    issuanceBudgetPerHour: Number(item.issuanceBudgetPerHour ?? DEFAULT_ISSUANCE_BUDGET_PER_HOUR),
    maxLiveCertificates: Number(item.maxLiveCertificates ?? DEFAULT_MAX_LIVE_CERTIFICATES),
    deviceCount: Number(item.deviceCount ?? 0),
    createdAt: String(item.createdAt),
  };
}

function toDevice(item: Item): Device {
  const opt = (v: unknown) => (v === undefined || v === null ? undefined : String(v));
  return {
    realm: String(item.realm),
    deviceId: String(item.deviceId),
    secretHash: opt(item.secretHash),
    firstRegistration: String(item.firstRegistration),
    firstCredentialsRequest: opt(item.firstCredentialsRequest),
    lastCredentialsRequestIp: opt(item.lastCredentialsRequestIp),
    credentialsInhibited: item.credentialsInhibited === true,
    introspection: (item.introspection ?? {}) as Device["introspection"],
    currentSerial: opt(item.currentSerial),
    connected: item.connected === true,
    lastConnection: opt(item.lastConnection),
    lastDisconnection: opt(item.lastDisconnection),
    lastSeenIp: opt(item.lastSeenIp),
    metadata: (item.metadata ?? {}) as Device["metadata"],
    issuance: {
      lease: optionalNumber(item.issuanceLease),
      tat: optionalNumber(item.issuanceTat),
      admitAt: optionalNumber(item.issuanceAdmitAt),
      lastKey: item.lastIssuanceKey === undefined ? undefined : String(item.lastIssuanceKey),
    },
  };
}

const optionalNumber = (value: unknown) =>
  value === undefined || value === null ? undefined : Number(value);

function fromCertificate(c: CertificateRecord): Item {
  return { kind: "certificate", ...c };
}

function toCertificate(item: Item): CertificateRecord {
  return {
    realm: String(item.realm),
    deviceId: String(item.deviceId),
    serial: String(item.serial),
    iotCertificateId: String(item.iotCertificateId),
    iotCertificateArn: String(item.iotCertificateArn),
    notBefore: String(item.notBefore),
    notAfter: String(item.notAfter),
    issuedAt: String(item.issuedAt),
    state: item.state as CertificateRecord["state"],
    graceUntil: item.graceUntil === undefined ? undefined : String(item.graceUntil),
    retiredReason: item.retiredReason as CertificateRecord["retiredReason"],
  };
}
