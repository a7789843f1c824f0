import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DeviceStore } from "../../core/ports/device-store.ts";
import { DynamoFleet } from "./fleet.ts";
import { DynamoFleetStats } from "./fleet-stats.ts";
import { DynamoIssuanceSlot } from "./issuance-slot.ts";
import { DynamoLedger } from "./ledger.ts";
import { DynamoRealmsAndDevices } from "./realms-and-devices.ts";
import { DynamoSweepQueue } from "./sweep-queue.ts";

/** A repository's public methods as a plain object type (a class instance's spread would drop them). */
type Methods<T> = { [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] };

/** The public methods of a repository, bound to it, so several make one port. */
function methodsOf<T extends object>(repository: T): Methods<T> {
  const methods: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(repository))) {
    const value = (repository as Record<string, unknown>)[name];
    if (name !== "constructor" && typeof value === "function") methods[name] = value.bind(repository);
  }
  return methods as Methods<T>;
}

/**
 * DeviceStore on one DynamoDB table, one repository per concept: realms and device registration, the
 * issuance slot, the certificate ledger and intents, the sweep index, and the fleet's presence and listings.
 * The contract suite in test/support/store-contract.ts holds it and the in-memory store to the same behaviour.
 */
export function createDynamoStore(dynamo: DynamoDBClient, tableName: string): DeviceStore {
  return {
    ...methodsOf(new DynamoRealmsAndDevices(dynamo, tableName)),
    ...methodsOf(new DynamoIssuanceSlot(dynamo, tableName)),
    ...methodsOf(new DynamoLedger(dynamo, tableName)),
    ...methodsOf(new DynamoSweepQueue(dynamo, tableName)),
    ...methodsOf(new DynamoFleet(dynamo, tableName)),
    ...methodsOf(new DynamoFleetStats(dynamo, tableName)),
  } satisfies DeviceStore;
}
