import { randomBytes } from "node:crypto";
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type CertificateRecord,
  type CredentialEvent,
  DEFAULT_ISSUANCE_BUDGET_PER_HOUR,
  DEFAULT_MAX_LIVE_CERTIFICATES,
  type Device,
  type IssuanceIntent,
  type Realm,
} from "../../core/model.ts";
import { aws } from "../aws-errors.ts";
import { sweepShardOf, TTL_ATTRIBUTE } from "../table-schema.ts";

export type Item = Record<string, unknown>;

export const realmKey = (name: string) => ({ pk: "REALMS", sk: name });
export const devicePk = (realm: string, deviceId: string) => `DEVICE#${realm}#${deviceId}`;
export const deviceKey = (realm: string, deviceId: string) => ({
  pk: devicePk(realm, deviceId),
  sk: "DEVICE",
});
export const certKey = (realm: string, deviceId: string, serial: string) => ({
  pk: devicePk(realm, deviceId),
  sk: `CERT#${serial}`,
});
/** Certificates are found by the sweeper through (shard, deadline); the shard spreads a fleet's writes. */
export const sweepShard = (deviceId: string) => `SWEEP#${sweepShardOf(deviceId)}`;
export const intentKey = (intent: Pick<IssuanceIntent, "realm" | "deviceId" | "requestId">) => ({
  pk: devicePk(intent.realm, intent.deviceId),
  sk: `INTENT#${intent.requestId}`,
});

/**
 * Marshalls an item. Maps a client fills (introspection, metadata) are null-prototype objects, which the
 * marshaller would otherwise refuse as class instances.
 */
export const m = (value: Item) =>
  marshall(value, { removeUndefinedValues: true, convertClassInstanceToMap: true });

export type TransactItems = NonNullable<
  ConstructorParameters<typeof TransactWriteItemsCommand>[0]["TransactItems"]
>;
export type TransactItem = TransactItems[number];

/** Timeline entries live this long. */
export const EVENT_TTL_SECONDS = 90 * 24 * 3600;
/** Records of retired certificates stay (for verify's REVOKED/EXPIRED answers) this long past notAfter. */
export const RETIRED_TTL_SECONDS = 30 * 24 * 3600;
export const epochSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/**
 * The Put that records one credential event under its device (the outbox). `order` keeps events of one
 * transaction (same timestamp) in the order they happened.
 */
export function eventPut(tableName: string, event: CredentialEvent, order = 0): TransactItem {
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
export async function applied(write: () => Promise<unknown>): Promise<boolean> {
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
export async function untilProcessed<T>(
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
export function failedConditions(error: unknown): boolean[] | undefined {
  if (!(error instanceof TransactionCanceledException)) return undefined;
  return (error.CancellationReasons ?? []).map((r) => r.Code === "ConditionalCheckFailed");
}

/**
 * One DynamoDB table (keys in table-schema.ts), and the reads and writes every concept's repository shares.
 * Every state change is a conditional write or a transaction, so concurrent requests can neither register a
 * device twice nor leave two current certificates.
 */
export class DynamoTable {
  constructor(
    protected readonly dynamo: DynamoDBClient,
    protected readonly tableName: string,
  ) {}

  /** Every item a query matches, page after page. */
  protected async queryAll(
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

  protected async transact(items: TransactItems): Promise<void> {
    await aws(() => this.dynamo.send(new TransactWriteItemsCommand({ TransactItems: items })));
  }

  /** Deletes the items of these keys (`pk`, `sk`), 25 a batch, retrying what DynamoDB left unprocessed. */
  protected async deleteKeys(keys: readonly Item[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      const requests = keys
        .slice(i, i + 25)
        .map((key) => ({ DeleteRequest: { Key: m({ pk: key.pk, sk: key.sk }) } }));
      await untilProcessed(requests, "deletes", async (batch) => {
        const out = await aws(() =>
          this.dynamo.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: batch } })),
        );
        return (out.UnprocessedItems?.[this.tableName] ?? []) as typeof batch;
      });
    }
  }

  /** The device's items whose sort key starts with `prefix` (every item without one), read consistently. */
  protected deviceItems(
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

  /** Takes away the device's current certificate if it is one of `serials` (else leaves it alone). */
  protected async clearCurrentSerial(
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
          // A version too: the device's certificate-expiry view follows (dynamo/device-views.ts).
          UpdateExpression: "REMOVE currentSerial, currentNotAfter ADD ver :one",
          ConditionExpression: `currentSerial IN (${serials.map((_, i) => `:s${i}`).join(", ")})`,
          ExpressionAttributeValues: m({
            ...Object.fromEntries(serials.map((s, i) => [`:s${i}`, s])),
            ":one": 1,
          }),
        }),
      ),
    );
  }
}

export function toIntent(item: Item): IssuanceIntent {
  return {
    realm: String(item.realm),
    deviceId: String(item.deviceId),
    requestId: String(item.requestId),
    createdAt: String(item.createdAt),
    certificateRef: item.certificateRef === undefined ? undefined : String(item.certificateRef),
  };
}

export function fromRealm(realm: Realm): Item {
  return { kind: "realm", ...realm };
}

/** A deleted realm's record stays (unknown to the APIs) until the sweeper has purged its devices. */
export const isDeleted = (item: Item) => item.deletedAt !== undefined;

export function toRealm(item: Item): Realm {
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
    indexedMetadataKeys: Array.isArray(item.indexedMetadataKeys) ? item.indexedMetadataKeys.map(String) : [],
    deviceCount: Number(item.deviceCount ?? 0),
    createdAt: String(item.createdAt),
  };
}

export function toDevice(item: Item): Device {
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
    currentNotAfter: opt(item.currentNotAfter),
    connected: item.connected === true,
    lastConnection: opt(item.lastConnection),
    lastDisconnection: opt(item.lastDisconnection),
    lastSeenIp: opt(item.lastSeenIp),
    metadata: (item.metadata ?? {}) as Device["metadata"],
    ...(item.indexedMetadata === undefined
      ? {}
      : { indexedMetadata: item.indexedMetadata as Device["indexedMetadata"] }),
    issuance: {
      lease: optionalNumber(item.issuanceLease),
      tat: optionalNumber(item.issuanceTat),
      admitAt: optionalNumber(item.issuanceAdmitAt),
      lastKey: item.lastIssuanceKey === undefined ? undefined : String(item.lastIssuanceKey),
      turnAt: optionalNumber(item.issuanceTurnAt),
      turnUntil: optionalNumber(item.issuanceTurnUntil),
    },
  };
}

const optionalNumber = (value: unknown) =>
  value === undefined || value === null ? undefined : Number(value);

export function fromCertificate(c: CertificateRecord): Item {
  return { kind: "certificate", ...c };
}

export function toCertificate(item: Item): CertificateRecord {
  return {
    realm: String(item.realm),
    deviceId: String(item.deviceId),
    serial: String(item.serial),
    iotCertificateId: String(item.iotCertificateId),
    iotCertificateArn: String(item.iotCertificateArn),
    ...(item.issuer === undefined ? {} : { issuer: String(item.issuer) }),
    notBefore: String(item.notBefore),
    notAfter: String(item.notAfter),
    issuedAt: String(item.issuedAt),
    state: item.state as CertificateRecord["state"],
    graceUntil: item.graceUntil === undefined ? undefined : String(item.graceUntil),
    retiredReason: item.retiredReason as CertificateRecord["retiredReason"],
    ...(item.revocationPending === true ? { revocationPending: true } : {}),
  };
}
