import { randomInt } from "node:crypto";
import { GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { DEVICE_LIST_STATUSES, type DeviceListStatus } from "../../core/device-query.ts";
import {
  type ActivityCounts,
  type ActivityHour,
  EXPIRING_WITHIN_SECONDS,
  emptyFleetCounts,
  type FleetCounts,
  hourOf,
} from "../../core/fleet-stats.ts";
import type { FleetStats } from "../../core/ports/device-store.ts";
import { logger } from "../../observability.ts";
import { aws } from "../aws-errors.ts";
import { expiryViewKey, presenceViewKey, TTL_ATTRIBUTE, VIEW_INDEX, VIEW_SHARDS } from "../table-schema.ts";
import { DynamoTable, epochSeconds, m } from "./items.ts";

/**
 * Items an hour's activity counters are spread over: each write lands on one at random, so a burst of writers
 * (a renewal wave, a refusal storm) shares 8 items' write capacity instead of queueing on one; a read sums them.
 */
export const ACTIVITY_SHARDS = 8;
/** Counters and counts outlive the longest chart (7 days) by a day, then DynamoDB's TTL deletes them. */
const STATS_TTL_SECONDS = 8 * 24 * 3600;
/** Index queries a count runs at once. */
const COUNT_CONCURRENCY = 8;

const countsKey = (realm: string) => ({ pk: `STATS#${realm}`, sk: "COUNTS" });
const activityPk = (realm: string, shard: number) => `STATS#${realm}#${shard}`;
/** Counter attributes carry a prefix, so no counter name can collide with the item's keys. */
const COUNTER = "c_";

/** The fleet's counts (from the search's views) and its hourly activity counters. */
export class DynamoFleetStats extends DynamoTable implements FleetStats {
  async countFleet(realm: string, now: string): Promise<FleetCounts> {
    const counts = emptyFleetCounts(now) as {
      -readonly [K in keyof FleetCounts]: FleetCounts[K];
    } & { devices: Record<DeviceListStatus, { connected: number; disconnected: number }> };
    const soon = new Date(Date.parse(now) + EXPIRING_WITHIN_SECONDS * 1000).toISOString();
    const shards = Array.from({ length: VIEW_SHARDS }, (_, shard) => shard);
    const tasks: (() => Promise<void>)[] = [];
    for (const status of DEVICE_LIST_STATUSES) {
      for (const shard of shards) {
        for (const connected of [true, false]) {
          tasks.push(async () => {
            const n = await this.#count(presenceViewKey(realm, status, connected, shard));
            counts.devices[status][connected ? "connected" : "disconnected"] += n;
          });
        }
      }
    }
    // Certificates that should be renewed: those of confirmed devices (an inhibited one cannot renew).
    for (const shard of shards) {
      const key = expiryViewKey(realm, "confirmed", shard);
      // (Each count is awaited before it is added: `x += await …` would read x before the wait.)
      tasks.push(async () => {
        const n = await this.#count(key, { from: now, to: soon });
        counts.expiringSoon += n;
      });
      tasks.push(async () => {
        const n = await this.#count(key, { to: now });
        counts.lapsed += n;
      });
    }
    for (let i = 0; i < tasks.length; i += COUNT_CONCURRENCY) {
      await Promise.all(tasks.slice(i, i + COUNT_CONCURRENCY).map((task) => task()));
    }
    return counts;
  }

  /** The entries of one view partition (with sort keys from `from` up to `to`, when given), counted page by page. */
  async #count(
    viewKey: string,
    range: { from?: string; to: string } | undefined = undefined,
  ): Promise<number> {
    let total = 0;
    let start: Record<string, never> | undefined;
    do {
      const out = await aws(() =>
        this.dynamo.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: VIEW_INDEX.name,
            KeyConditionExpression: range
              ? range.from === undefined
                ? "viewKey = :k AND viewSort < :to"
                : "viewKey = :k AND viewSort BETWEEN :from AND :to"
              : "viewKey = :k",
            ExpressionAttributeValues: m({ ":k": viewKey, ":from": range?.from, ":to": range?.to }),
            Select: "COUNT",
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      total += out.Count ?? 0;
      start = out.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start);
    return total;
  }

  async getFleetCounts(realm: string): Promise<FleetCounts | undefined> {
    const out = await aws(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: m(countsKey(realm)) })),
    );
    if (!out.Item) return undefined;
    const item = unmarshall(out.Item);
    return item.counts as FleetCounts;
  }

  async saveFleetCounts(realm: string, counts: FleetCounts): Promise<void> {
    await aws(() =>
      this.dynamo.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: m({
            ...countsKey(realm),
            kind: "fleet-counts",
            counts,
            [TTL_ATTRIBUTE]: epochSeconds(counts.at) + STATS_TTL_SECONDS,
          }),
        }),
      ),
    );
  }

  async countActivity(realm: string, at: string, counts: ActivityCounts): Promise<void> {
    const entries = Object.entries(counts).filter(([, n]) => n !== undefined && n !== 0);
    if (entries.length === 0) return;
    const hour = hourOf(at);
    try {
      await this.#add(realm, hour, entries);
    } catch (error) {
      logger.warn("activity not counted", { realm, hour, counts, error: error as Error });
    }
  }

  async #add(realm: string, hour: string, entries: [string, number | undefined][]): Promise<void> {
    await aws(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m({ pk: activityPk(realm, randomInt(ACTIVITY_SHARDS)), sk: `H#${hour}` }),
          UpdateExpression: `SET #kind = :kind, #ttl = :ttl ADD ${entries.map((_, i) => `#c${i} :c${i}`).join(", ")}`,
          ExpressionAttributeNames: {
            "#kind": "kind",
            "#ttl": TTL_ATTRIBUTE,
            ...Object.fromEntries(entries.map(([name], i) => [`#c${i}`, `${COUNTER}${name}`])),
          },
          ExpressionAttributeValues: m({
            ":kind": "activity",
            ":ttl": epochSeconds(`${hour}:00:00.000Z`) + STATS_TTL_SECONDS,
            ...Object.fromEntries(entries.map(([, n], i) => [`:c${i}`, n])),
          }),
        }),
      ),
    );
  }

  async forgetFleetStats(realm: string): Promise<void> {
    const keys = [
      countsKey(realm),
      ...(
        await Promise.all(
          Array.from({ length: ACTIVITY_SHARDS }, (_, shard) =>
            this.queryAll({
              KeyConditionExpression: "pk = :pk",
              ExpressionAttributeValues: m({ ":pk": activityPk(realm, shard) }),
              ProjectionExpression: "pk, sk",
            }),
          ),
        )
      ).flat(),
    ];
    await this.deleteKeys(keys);
  }

  async readActivity(realm: string, from: string, to: string): Promise<ActivityHour[]> {
    const hours = new Map<string, Record<string, number>>();
    const shards = await Promise.all(
      Array.from({ length: ACTIVITY_SHARDS }, (_, shard) =>
        this.queryAll({
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
          ExpressionAttributeValues: m({
            ":pk": activityPk(realm, shard),
            ":from": `H#${from}`,
            ":to": `H#${to}`,
          }),
        }),
      ),
    );
    for (const item of shards.flat()) {
      const hour = String(item.sk).slice(2);
      const sums = hours.get(hour) ?? {};
      for (const [name, value] of Object.entries(item)) {
        if (name.startsWith(COUNTER)) {
          const key = name.slice(COUNTER.length);
          sums[key] = (sums[key] ?? 0) + Number(value);
        }
      }
      hours.set(hour, sums);
    }
    return [...hours.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([hour, counts]) => ({ hour, counts }));
  }
}
