import { createMemoryStore } from "../../functions/adapters/memory/index.ts";
import { storeContract } from "../support/store-contract.ts";

storeContract("in memory", () => createMemoryStore());
