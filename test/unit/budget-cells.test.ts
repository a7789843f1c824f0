import { MemoryBudgetCells } from "../../functions/adapters/memory/index.ts";
import { budgetCellsContract } from "../support/budget-contract.ts";

budgetCellsContract("memory", () => new MemoryBudgetCells());
