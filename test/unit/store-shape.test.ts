import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { createDynamoStore } from "../../functions/adapters/dynamo/index.ts";
import { createMemoryStore } from "../../functions/adapters/memory/index.ts";

describe("the two stores", () => {
  it("expose the same methods, and nothing but the port's (no repository helper leaks into the port)", () => {
    // Building the DynamoDB store sends nothing: the client is only configured.
    const dynamo = createDynamoStore(new DynamoDBClient({ region: "us-east-1" }), "unused");
    const memory = createMemoryStore();
    expect(Object.keys(dynamo).sort()).toEqual(Object.keys(memory).sort());
  });
});
