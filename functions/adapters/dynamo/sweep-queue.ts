import {
  type AttributeValue,
  ConditionalCheckFailedException,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { CertificateRecord, IssuanceIntent, RetiredReason } from "../../core/model.ts";
import type { DueItem, DuePage, SweepQueue } from "../../core/ports/device-store.ts";
import { aws } from "../aws-errors.ts";
import { SWEEP_INDEX, TTL_ATTRIBUTE } from "../table-schema.ts";

import {
  certKey,
  DynamoTable,
  epochSeconds,
  eventPut,
  failedConditions,
  m,
  RETIRED_TTL_SECONDS,
  type TransactItems,
  toCertificate,
  toIntent,
} from "./items.ts";

/** The sweep index: what is due, retiring it, and purging a device. */
export class DynamoSweepQueue extends DynamoTable implements SweepQueue {
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
    await this.deleteKeys(await this.deviceItems(realm, deviceId, undefined, "pk, sk"));
  }

  /** A query of one shard's items due at `now`, earliest first: what finding and measuring both ask. */
  #dueQuery(
    shard: number,
    now: string,
    limit: number,
    extra: {
      Select?: "COUNT";
      ProjectionExpression?: string;
      ExclusiveStartKey?: Record<string, AttributeValue>;
    },
  ) {
    return aws(() =>
      this.dynamo.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: SWEEP_INDEX.name,
          KeyConditionExpression: "#shard = :shard AND #deadline <= :now",
          ExpressionAttributeNames: { "#shard": SWEEP_INDEX.partition, "#deadline": SWEEP_INDEX.sort },
          ExpressionAttributeValues: m({ ":shard": `SWEEP#${shard}`, ":now": now }),
          Limit: limit,
          ...extra,
        }),
      ),
    );
  }

  async findDue(shard: number, now: string, limit: number, cursor?: string): Promise<DuePage> {
    const out = await this.#dueQuery(
      shard,
      now,
      limit,
      cursor ? { ExclusiveStartKey: JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) } : {},
    );
    const items = (out.Items ?? []).map((raw): DueItem => {
      const item = unmarshall(raw);
      if (item.pk === "REALMS") return { kind: "realm", realm: String(item.sk) };
      return item.kind === "intent"
        ? { kind: "intent", intent: toIntent(item) }
        : { kind: "certificate", record: toCertificate(item) };
    });
    // DynamoDB stops a page at Limit (or 1 MB) and says where: the next page starts there.
    const next =
      items.length > 0 && out.LastEvaluatedKey
        ? Buffer.from(JSON.stringify(out.LastEvaluatedKey), "utf8").toString("base64url")
        : undefined;
    return { items, cursor: next };
  }

  async dueBacklog(
    shard: number,
    now: string,
    cap: number,
  ): Promise<{ count: number; oldest: string | undefined }> {
    // One item for the oldest; a capped count (a COUNT query reads the items it counts, so the cap bounds it).
    const [first, counted] = await Promise.all([
      this.#dueQuery(shard, now, 1, { ProjectionExpression: "#deadline" }),
      this.#dueQuery(shard, now, cap, { Select: "COUNT" }),
    ]);
    const oldest = first.Items?.[0] ? String(unmarshall(first.Items[0]).deadline) : undefined;
    return { count: counted.Count ?? 0, oldest };
  }

  async deferRevocation(record: CertificateRecord, until: string): Promise<boolean> {
    try {
      await aws(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: m(certKey(record.realm, record.deviceId, record.serial)),
            UpdateExpression: "SET #deadline = :until, revocationPending = :true",
            ConditionExpression: "#state = :seen AND attribute_exists(#deadline)",
            ExpressionAttributeNames: { "#state": "state", "#deadline": "deadline" },
            ExpressionAttributeValues: m({ ":until": until, ":true": true, ":seen": record.state }),
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
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
}
