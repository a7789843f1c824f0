import type { HandlerName } from "../../functions/http/routes.ts";

/**
 * Exactly what each function may do, in one table a reviewer can read: the AWS actions its handler's code
 * path calls and nothing else. `table` actions apply to the table (TransactWriteItems is authorized by the
 * item actions inside it); `ca` to the private CA; `certificates` to this account's IoT certificates
 * (`cert/*`: ids are created at run time); `things` to this account's IoT things (`thing/*`: one per device,
 * created at registration); `iotUnscoped` are IoT actions the Service Authorization Reference lists with no
 * resource type, which IAM only grants on `*`; `hashKey` is read access to the secret-hashing key.
 */
export interface FunctionAccess {
  readonly table: readonly string[];
  /** Query on the sweep index. */
  readonly sweepIndex?: boolean;
  /** Query on the realm (device list) index. */
  readonly realmIndex?: boolean;
  /** Query on the device search's index. */
  readonly viewIndex?: boolean;
  readonly hashKey?: boolean;
  readonly ca?: readonly string[];
  readonly certificates?: readonly string[];
  readonly things?: readonly string[];
  /** RegisterCertificateWithoutCA, Attach/DetachThingPrincipal, ListThingPrincipals, ListThings: no resource-level permissions. */
  readonly iotUnscoped?: readonly string[];
  /** IoT data-plane actions on MQTT clients (`client/*`: every device's client id). */
  readonly connections?: readonly string[];
  /**
   * Invoked asynchronously (IoT rules, EventBridge): events still failing after Lambda's retries go to the
   * FailedEvents queue, which the function may send to (CDK's destination grant).
   */
  readonly asyncFailures?: true;
}

export type FunctionName = HandlerName | "not-found" | "sweeper" | "presence" | "metadata";

export const FUNCTION_ACCESS: Readonly<Record<FunctionName, FunctionAccess>> = {
  "agent-register": {
    // DeleteItem: a new device whose thing could not be made is discarded again.
    table: ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
    hashKey: true,
    things: ["iot:CreateThing"],
  },
  "agent-unregister": {
    table: [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "dynamodb:PutItem",
    ],
    certificates: ["iot:UpdateCertificate", "iot:DetachPolicy", "iot:DeleteCertificate"],
    iotUnscoped: ["iot:DetachThingPrincipal"],
    connections: ["iot:DeleteConnection"],
  },
  "agent-rotate-secret": {
    table: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"],
    hashKey: true,
  },
  "device-info": { table: ["dynamodb:BatchGetItem", "dynamodb:GetItem"], hashKey: true },
  "device-credentials": {
    table: [
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      // The device's certificates, for the cap on live certificates.
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ],
    hashKey: true,
    ca: ["acm-pca:IssueCertificate", "acm-pca:GetCertificate"],
    certificates: [
      "iot:DescribeCertificate",
      "iot:UpdateCertificate",
      "iot:AttachPolicy",
      "iot:DetachPolicy",
      "iot:DeleteCertificate",
    ],
    iotUnscoped: ["iot:RegisterCertificateWithoutCA", "iot:AttachThingPrincipal", "iot:DetachThingPrincipal"],
  },
  "device-verify": {
    table: ["dynamodb:BatchGetItem", "dynamodb:GetItem"],
    hashKey: true,
    ca: ["acm-pca:GetCertificateAuthorityCertificate"],
  },
  "appengine-device": {
    table: [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:UpdateItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
    ],
    certificates: ["iot:UpdateCertificate"],
    connections: ["iot:DeleteConnection"],
  },
  "appengine-devices": {
    table: ["dynamodb:GetItem", "dynamodb:BatchGetItem"],
    realmIndex: true,
    viewIndex: true,
  },
  "appengine-device-events": { table: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"] },
  // Query: the activity counters; the view index: counting the fleet; PutItem: the counts kept for 5 minutes.
  "appengine-overview": {
    table: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem"],
    viewIndex: true,
  },
  "housekeeping-realms": {
    table: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
  },
  health: { table: ["dynamodb:GetItem"] },
  version: { table: ["dynamodb:GetItem"] },
  "not-found": { table: [] },
  openapi: { table: [] },
  // PutItem: the device's presence view (the device search), projected after the update.
  presence: { table: ["dynamodb:UpdateItem", "dynamodb:PutItem"], asyncFailures: true },
  // PutItem: the device's metadata views (realms that index metadata keys), projected after the update.
  metadata: {
    table: ["dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"],
    asyncFailures: true,
  },
  sweeper: {
    table: [
      "dynamodb:GetItem",
      "dynamodb:UpdateItem",
      "dynamodb:PutItem",
      "dynamodb:DeleteItem",
      // Deleted realms: a device's items are listed and deleted in batches.
      "dynamodb:Query",
      "dynamodb:BatchWriteItem",
    ],
    sweepIndex: true,
    realmIndex: true,
    asyncFailures: true,
    ca: ["acm-pca:GetCertificate", "acm-pca:RevokeCertificate"],
    certificates: [
      "iot:DescribeCertificate",
      "iot:UpdateCertificate",
      "iot:DetachPolicy",
      "iot:DeleteCertificate",
    ],
    things: ["iot:DeleteThing"],
    // ListThings: a deleted realm's things without a device record.
    iotUnscoped: ["iot:DetachThingPrincipal", "iot:ListThingPrincipals", "iot:ListThings"],
  },
};
