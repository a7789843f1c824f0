import { createDynamoStore } from "../../functions/adapters/dynamo/index.ts";
import { storeContract } from "../support/store-contract.ts";
import { testBed } from "../support/test-bed.ts";

storeContract("DynamoDB (moto)", () => createDynamoStore(testBed().clients.dynamo, testBed().env.tableName));
