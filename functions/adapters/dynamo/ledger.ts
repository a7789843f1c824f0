import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { CertificateRecord, IssuanceIntent } from "../../core/model.ts";
import type { CertificateLedger } from "../../core/ports/device-store.ts";
import {
  ConcurrentIssuanceError,
  type RecordIssuanceInput,
  type RollbackIssuanceInput,
} from "../../core/ports/device-store.ts";
import { aws } from "../aws-errors.ts";
import { TTL_ATTRIBUTE } from "../table-schema.ts";
import { reprojectDevice } from "./device-views.ts";

import {
  applied,
  certKey,
  DynamoTable,
  deviceKey,
  EVENT_TTL_SECONDS,
  epochSeconds,
  eventPut,
  failedConditions,
  fromCertificate,
  intentKey,
  m,
  sweepShard,
  type TransactItems,
  toCertificate,
} from "./items.ts";

/** The certificate ledger and issuance intents. */
export class DynamoLedger extends DynamoTable implements CertificateLedger {
  async listCertificates(realm: string, deviceId: string): Promise<CertificateRecord[]> {
    return (await this.deviceItems(realm, deviceId, "CERT#")).map(toCertificate);
  }

  async getCertificate(
    realm: string,
    deviceId: string,
    serial: string,
  ): Promise<CertificateRecord | undefined> {
    const out = await aws(() =>
      this.dynamo.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: m(certKey(realm, deviceId, serial)),
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? toCertificate(unmarshall(out.Item)) : undefined;
  }

  async recordIssuance(input: RecordIssuanceInput): Promise<void> {
    const {
      certificate: c,
      expectedCurrentSerial,
      superseded,
      requestIp,
      now,
      intentRequestId,
      secretHash,
      lease,
      charge,
      graceCuts,
    } = input;
    const items: TransactItems = [
      {
        Put: {
          TableName: this.tableName,
          Item: m({
            ...certKey(c.realm, c.deviceId, c.serial),
            ...fromCertificate(c),
            sweepShard: sweepShard(c.deviceId),
            deadline: c.notAfter,
          }),
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: m(deviceKey(c.realm, c.deviceId)),
          UpdateExpression: `SET currentSerial = :serial, currentNotAfter = :notAfter, firstCredentialsRequest = if_not_exists(firstCredentialsRequest, :now), issuanceTat = :tat, issuanceAdmitAt = :admit, lastIssuanceKey = :key${requestIp ? ", lastCredentialsRequestIp = :ip" : ""} REMOVE issuanceLease ADD ver :one`,
          // Fenced on the secret the request authenticated with (unregistration, re-registration and rotation
          // all change it), not inhibited, still holding its issuance slot, and nobody else made a certificate
          // current since we read it. The budget is charged and the slot released in the same write.
          ConditionExpression: `secretHash = :secret AND credentialsInhibited = :false AND issuanceLease = :lease AND ${
            expectedCurrentSerial ? "currentSerial = :expected" : "attribute_not_exists(currentSerial)"
          }`,
          ExpressionAttributeValues: m({
            ":serial": c.serial,
            ":notAfter": c.notAfter,
            ":now": now,
            ":false": false,
            ":secret": secretHash,
            ":lease": lease,
            ":tat": charge.tat,
            ":admit": charge.admitAt,
            ":key": charge.key,
            ":one": 1,
            ...(requestIp ? { ":ip": requestIp } : {}),
            ...(expectedCurrentSerial ? { ":expected": expectedCurrentSerial } : {}),
          }),
        },
      },
    ];
    items.push(
      { Delete: { TableName: this.tableName, Key: m(intentKey({ ...c, requestId: intentRequestId })) } },
      eventPut(this.tableName, {
        realm: c.realm,
        deviceId: c.deviceId,
        type: "issued",
        at: now,
        serial: c.serial,
      }),
    );
    if (superseded) {
      items.push(
        eventPut(
          this.tableName,
          {
            realm: c.realm,
            deviceId: c.deviceId,
            type: "superseded",
            at: now,
            serial: superseded.serial,
            reason: `grace until ${superseded.graceUntil}`,
          },
          1,
        ),
      );
      items.push({
        Update: {
          TableName: this.tableName,
          Key: m(certKey(c.realm, c.deviceId, superseded.serial)),
          UpdateExpression: "SET #state = :superseded, graceUntil = :grace, deadline = :grace",
          ConditionExpression: "#state = :current",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: m({
            ":superseded": "superseded",
            ":current": "current",
            ":grace": superseded.graceUntil,
          }),
        },
      });
    }
    // The cap on live certificates: these lose the rest of their grace and are due for the sweeper now.
    for (const serial of graceCuts) {
      items.push(
        {
          Update: {
            TableName: this.tableName,
            Key: m(certKey(c.realm, c.deviceId, serial)),
            UpdateExpression: "SET graceUntil = :now, deadline = :now",
            ConditionExpression: "#state = :superseded",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: m({ ":now": now, ":superseded": "superseded" }),
          },
        },
        eventPut(
          this.tableName,
          {
            realm: c.realm,
            deviceId: c.deviceId,
            type: "superseded",
            at: now,
            serial,
            reason: "grace cut: too many live certificates",
          },
          2,
        ),
      );
    }
    try {
      await aws(() => this.dynamo.send(new TransactWriteItemsCommand({ TransactItems: items })));
    } catch (error) {
      if (error instanceof TransactionCanceledException) throw new ConcurrentIssuanceError({ cause: error });
      throw error;
    }
    // A first issuance confirms the device (every view moves); a renewal moves its certificate's expiry.
    await reprojectDevice(
      this.dynamo,
      this.tableName,
      c.realm,
      c.deviceId,
      expectedCurrentSerial === undefined ? ["status"] : ["expiry"],
    );
  }

  async rollbackIssuance(input: RollbackIssuanceInput): Promise<void> {
    const { certificate: c, restoredCurrentSerial, unconfirm, intent, intentDeadline } = input;
    const previous = restoredCurrentSerial
      ? await this.getCertificate(c.realm, c.deviceId, restoredCurrentSerial)
      : undefined;
    const removals = [
      ...(restoredCurrentSerial ? [] : ["currentSerial", "currentNotAfter"]),
      ...(unconfirm ? ["firstCredentialsRequest"] : []),
    ];
    const items: TransactItems = [
      {
        Delete: {
          TableName: this.tableName,
          Key: m(certKey(c.realm, c.deviceId, c.serial)),
          ConditionExpression: "#state = :current",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: m({ ":current": "current" }),
        },
      },
      {
        Update: {
          TableName: this.tableName,
          Key: m(deviceKey(c.realm, c.deviceId)),
          UpdateExpression: [
            restoredCurrentSerial ? "SET currentSerial = :restored, currentNotAfter = :restoredNotAfter" : "",
            removals.length > 0 ? `REMOVE ${removals.join(", ")}` : "",
            "ADD ver :one",
          ]
            .filter(Boolean)
            .join(" "),
          ConditionExpression: "currentSerial = :serial",
          ExpressionAttributeValues: m({
            ":serial": c.serial,
            ":one": 1,
            ...(restoredCurrentSerial
              ? { ":restored": restoredCurrentSerial, ":restoredNotAfter": previous?.notAfter ?? c.notAfter }
              : {}),
          }),
        },
      },
    ];
    items.push({ Put: { TableName: this.tableName, Item: this.#intentItem(intent, intentDeadline) } });
    if (restoredCurrentSerial) {
      items.push({
        Update: {
          TableName: this.tableName,
          Key: m(certKey(c.realm, c.deviceId, restoredCurrentSerial)),
          UpdateExpression: "SET #state = :current, deadline = :notAfter REMOVE graceUntil",
          ConditionExpression: "#state = :superseded",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: m({
            ":current": "current",
            ":superseded": "superseded",
            ":notAfter": previous?.notAfter ?? c.notAfter,
          }),
        },
      });
    }
    try {
      await aws(() => this.dynamo.send(new TransactWriteItemsCommand({ TransactItems: items })));
    } catch (error) {
      // A newer issuance already moved the device on: nothing of ours is left to undo.
      if (!(error instanceof TransactionCanceledException)) throw error;
      return;
    }
    await reprojectDevice(
      this.dynamo,
      this.tableName,
      c.realm,
      c.deviceId,
      unconfirm ? ["status"] : ["expiry"],
    );
  }

  async markRevoked(realm: string, deviceId: string, serials: readonly string[], now: string): Promise<void> {
    await Promise.all(
      serials.map((serial) =>
        this.transact([
          {
            Update: {
              TableName: this.tableName,
              Key: m(certKey(realm, deviceId, serial)),
              // Due for the sweeper now: it takes the certificate out of IoT and revokes it in the CA.
              UpdateExpression: "SET #state = :revoked, deadline = :now, sweepShard = :shard",
              ConditionExpression: "attribute_exists(pk) AND #state IN (:current, :superseded)",
              ExpressionAttributeNames: { "#state": "state" },
              ExpressionAttributeValues: m({
                ":revoked": "revoked",
                ":current": "current",
                ":superseded": "superseded",
                ":now": now,
                ":shard": sweepShard(deviceId),
              }),
            },
          },
          eventPut(this.tableName, { realm, deviceId, type: "revoked", at: now, serial }),
        ]).catch((error: unknown) => {
          if (!failedConditions(error)?.[0]) throw error;
        }),
      ),
    );
    // A revoked certificate is no longer the device's current one; the next issuance supersedes nothing.
    await this.clearCurrentSerial(realm, deviceId, serials);
    await reprojectDevice(this.dynamo, this.tableName, realm, deviceId, ["expiry"]);
  }

  async putIntent(intent: IssuanceIntent, deadline: string): Promise<void> {
    await aws(() =>
      this.dynamo.send(
        new PutItemCommand({ TableName: this.tableName, Item: this.#intentItem(intent, deadline) }),
      ),
    );
  }

  #intentItem(intent: IssuanceIntent, deadline: string) {
    return m({
      ...intentKey(intent),
      kind: "intent",
      ...intent,
      sweepShard: sweepShard(intent.deviceId),
      deadline,
      [TTL_ATTRIBUTE]: epochSeconds(deadline) + EVENT_TTL_SECONDS,
    });
  }

  async setIntentCertificate(intent: IssuanceIntent, certificateRef: string): Promise<void> {
    // Conditional: if the issuance already finished and deleted the intent, do not bring it back.
    // If the issuance already finished and deleted the intent, there is nothing to add to.
    await applied(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: m(intentKey(intent)),
          UpdateExpression: "SET certificateRef = :ref",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: m({ ":ref": certificateRef }),
        }),
      ),
    );
  }

  async deleteIntent(intent: IssuanceIntent): Promise<void> {
    await aws(() =>
      this.dynamo.send(new DeleteItemCommand({ TableName: this.tableName, Key: m(intentKey(intent)) })),
    );
  }
}
