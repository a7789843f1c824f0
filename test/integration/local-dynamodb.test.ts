import {
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { testBed } from "../support/test-bed.ts";

/**
 * The moto launcher backs a transaction up by the items it touches instead of deep copies of the table (so
 * the local AWS holds a fleet): a cancelled transaction must still leave nothing of itself behind.
 */
describe("the local DynamoDB's transactions", () => {
  const table = () => testBed().env.tableName;
  const key = (pk: string) => ({ pk: { S: pk }, sk: { S: "ITEM" } });
  const read = async (pk: string) =>
    (
      await testBed().clients.dynamo.send(
        new GetItemCommand({ TableName: table(), Key: key(pk), ConsistentRead: true }),
      )
    ).Item;

  it("a cancelled transaction leaves no partial write: puts, updates and deletes before the failure are undone", async () => {
    const dynamo = testBed().clients.dynamo;
    await dynamo.send(new PutItemCommand({ TableName: table(), Item: { ...key("kept"), n: { N: "1" } } }));
    await dynamo.send(new PutItemCommand({ TableName: table(), Item: { ...key("doomed"), n: { N: "1" } } }));
    const cancelled = dynamo.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table(), Item: { ...key("new"), n: { N: "1" } } } },
          {
            Update: {
              TableName: table(),
              Key: key("kept"),
              UpdateExpression: "SET n = :two",
              ExpressionAttributeValues: { ":two": { N: "2" } },
            },
          },
          { Delete: { TableName: table(), Key: key("doomed") } },
          {
            ConditionCheck: {
              TableName: table(),
              Key: key("absent"),
              ConditionExpression: "attribute_exists(pk)",
            },
          },
        ],
      }),
    );
    await expect(cancelled).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(await read("new")).toBeUndefined();
    expect((await read("kept"))?.n).toEqual({ N: "1" });
    expect((await read("doomed"))?.n).toEqual({ N: "1" });
  });

  it("a transaction that succeeds applies every write", async () => {
    const dynamo = testBed().clients.dynamo;
    await dynamo.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table(), Item: { ...key("a"), n: { N: "1" } } } },
          { Put: { TableName: table(), Item: { ...key("b"), n: { N: "2" } } } },
        ],
      }),
    );
    expect((await read("a"))?.n).toEqual({ N: "1" });
    expect((await read("b"))?.n).toEqual({ N: "2" });
  });
});
