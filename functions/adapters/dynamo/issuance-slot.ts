import { ConditionalCheckFailedException, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type {
  BeginIssuanceInput,
  BeginIssuanceResult,
  EndIssuanceInput,
  IssuanceSlot,
} from "../../core/ports/device-store.ts";
import { aws } from "../aws-errors.ts";

import { applied, DynamoTable, deviceKey, m, toDevice } from "./items.ts";

/** The device's issuance slot and budget: one conditional write admits a request, another gives it back. */
export class DynamoIssuanceSlot extends DynamoTable implements IssuanceSlot {
  async beginIssuance(input: BeginIssuanceInput): Promise<BeginIssuanceResult> {
    try {
      const out = await aws(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: m(deviceKey(input.realm, input.deviceId)),
            UpdateExpression: "SET issuanceLease = :lease REMOVE issuanceTurnAt, issuanceTurnUntil",
            // Never creates an item: a device without this secret (or without any) fails the first term.
            ConditionExpression:
              "secretHash = :secret AND credentialsInhibited = :false" +
              " AND (attribute_not_exists(issuanceLease) OR issuanceLease <= :now)" +
              " AND (attribute_not_exists(issuanceAdmitAt) OR issuanceAdmitAt <= :now OR lastIssuanceKey = :key)",
            ExpressionAttributeValues: m({
              ":lease": input.leaseUntil,
              ":secret": input.secretHash,
              ":false": false,
              ":now": input.now,
              ":key": input.key,
            }),
            ReturnValues: "ALL_OLD",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        ),
      );
      return { acquired: true, device: out.Attributes ? toDevice(unmarshall(out.Attributes)) : undefined };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { acquired: false, device: error.Item ? toDevice(unmarshall(error.Item)) : undefined };
    }
  }

  async endIssuance(input: EndIssuanceInput): Promise<void> {
    const { charge, turn } = input;
    const sets = [
      ...(charge ? ["issuanceTat = :tat", "issuanceAdmitAt = :admit", "lastIssuanceKey = :key"] : []),
      ...(turn ? ["issuanceTurnAt = :turnAt", "issuanceTurnUntil = :turnUntil"] : []),
    ];
    await applied(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(deviceKey(input.realm, input.deviceId)),
          UpdateExpression: `${sets.length > 0 ? `SET ${sets.join(", ")} ` : ""}REMOVE issuanceLease`,
          // Only our own slot: one that expired and was taken by another request is theirs.
          ConditionExpression: "issuanceLease = :lease",
          ExpressionAttributeValues: m({
            ":lease": input.lease,
            ...(charge ? { ":tat": charge.tat, ":admit": charge.admitAt, ":key": charge.key } : {}),
            ...(turn ? { ":turnAt": turn.at, ":turnUntil": turn.until } : {}),
          }),
        }),
      ),
    );
  }
}
