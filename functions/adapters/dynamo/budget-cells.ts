import { ConditionalCheckFailedException, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { BudgetCells, BudgetDecision, BudgetLane } from "../../core/ports/request-budget.ts";
import { aws } from "../aws-errors.ts";
import { DynamoTable, m } from "./items.ts";

/** A budget cell's item: outside every index (it has none of their attributes). */
export const budgetKey = (lane: BudgetLane, shard: number) => ({
  pk: `BUDGET#${lane}#${shard}`,
  sk: "BUDGET",
});

/** How often a cell's two cases may race each other before the caller is refused for now. */
const ATTEMPTS = 3;

/**
 * The request budget's cells on the table: one item per cell holding its GCRA time (`tat`), charged by one
 * conditional UpdateItem with no read before it. DynamoDB has no `max()` in an update, so the write assumes the
 * case a busy cell is in (`tat` at or after now: add the units' interval to it) and, when the condition's
 * returned item shows an idle one, writes the other (`tat` before now or absent: set it to now plus the
 * interval). An admission costs one write unit when the cell is busy, two when it was idle (when cost does not
 * matter); a refusal one, and returns when the cell has room again. A take that may queue (`queueMs`) is the same
 * write with a later limit: the cell's new time, returned by the write, says whether it got room now or a turn.
 */
export class DynamoBudgetCells extends DynamoTable implements BudgetCells {
  async charge(
    lane: BudgetLane,
    shard: number,
    units: number,
    now: number,
    budget: { readonly count: number; readonly periodMs: number },
    queueMs = 0,
  ): Promise<BudgetDecision> {
    const add = (units * budget.periodMs) / budget.count;
    let busy = true;
    let tat: number | undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        const written = await aws(() =>
          this.dynamo.send(
            new UpdateItemCommand({
              TableName: this.tableName,
              Key: m(budgetKey(lane, shard)),
              ...(busy
                ? {
                    UpdateExpression: "SET tat = tat + :add",
                    ConditionExpression: "tat >= :now AND tat <= :limit",
                    ExpressionAttributeValues: m({
                      ":add": add,
                      ":now": now,
                      ":limit": now + budget.periodMs + queueMs - add,
                    }),
                  }
                : {
                    UpdateExpression: "SET tat = :next",
                    ConditionExpression: "attribute_not_exists(tat) OR tat < :now",
                    ExpressionAttributeValues: m({ ":next": now + add, ":now": now }),
                  }),
              ReturnValues: "UPDATED_NEW",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            }),
          ),
        );
        // The cell's new time says whether the units are usable now or from a reserved turn.
        const next = written.Attributes ? unmarshall(written.Attributes).tat : undefined;
        const turn = typeof next === "number" ? next - budget.periodMs : now;
        return turn <= now ? { admitted: true } : { admitted: false, reserved: true, retryAt: turn };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const old = error.Item ? unmarshall(error.Item) : undefined;
        tat = typeof old?.tat === "number" ? old.tat : undefined;
        if (tat !== undefined && tat + add - budget.periodMs > now + queueMs) {
          return { admitted: false, retryAt: tat + add - budget.periodMs - queueMs };
        }
        busy = tat !== undefined && tat >= now;
      }
    }
    // Raced by other instances each time: the cell is in demand; come back after one interval.
    return { admitted: false, retryAt: now + add };
  }
}
