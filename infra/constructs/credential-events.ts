import { Validations } from "aws-cdk-lib";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { EventBus } from "aws-cdk-lib/aws-events";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnPipe } from "aws-cdk-lib/aws-pipes";
import { Construct } from "constructs";

export interface CredentialEventsProps {
  readonly table: TableV2;
}

/** EventBridge `source` and `detail-type` of Tether's credential events. */
export const EVENT_SOURCE = "tether.credentials";
export const EVENT_DETAIL_TYPE = "Tether credential event";

/**
 * Publishes every credential event (registered, issued, superseded, revoked, inhibited, expired, unregistered…)
 * to an EventBridge bus. The functions write each event into the table in the same transaction as the change
 * it records (an outbox); the table's stream feeds an EventBridge Pipe that forwards new event items only. So an
 * event is published if and only if its change happened, with no publish call on any request path. Events carry
 * realm, device id, type, time, serial and reason, never a secret.
 */
export class CredentialEvents extends Construct {
  readonly bus: EventBus;

  constructor(scope: Construct, id: string, props: CredentialEventsProps) {
    super(scope, id);
    const streamArn = props.table.tableStreamArn;
    if (!streamArn) throw new Error("the device table needs a stream for credential events");
    this.bus = new EventBus(this, "Bus", { description: "Tether credential events" });

    const role = new Role(this, "PipeRole", { assumedBy: new ServicePrincipal("pipes.amazonaws.com") });
    role.addToPolicy(
      new PolicyStatement({
        actions: ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
        resources: [streamArn],
      }),
    );
    // ListStreams has no resource type (Service Authorization Reference): IAM grants it on * or not at all;
    // scoped to the table's streams it would be denied and the Pipe could not start (found by parliament).
    role.addToPolicy(new PolicyStatement({ actions: ["dynamodb:ListStreams"], resources: ["*"] }));
    role.addToPolicy(
      new PolicyStatement({ actions: ["events:PutEvents"], resources: [this.bus.eventBusArn] }),
    );
    Validations.of(role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "dynamodb:ListStreams supports no resource-level permissions (Service Authorization Reference).",
    });

    // Every event item carries every field (serial and reason empty when the event has none), so each path
    // below exists in every record the filter lets through and the template always renders valid JSON.
    const image = (field: string) => `<$.dynamodb.NewImage.${field}.S>`;
    const pipe = new CfnPipe(this, "Pipe", {
      description: "Tether credential events: table outbox → EventBridge",
      roleArn: role.roleArn,
      source: streamArn,
      sourceParameters: {
        dynamoDbStreamParameters: { startingPosition: "LATEST", batchSize: 10, maximumRetryAttempts: 10 },
        filterCriteria: {
          filters: [
            {
              pattern: JSON.stringify({
                eventName: ["INSERT"],
                dynamodb: { NewImage: { kind: { S: ["event"] } } },
              }),
            },
          ],
        },
      },
      target: this.bus.eventBusArn,
      targetParameters: {
        eventBridgeEventBusParameters: { source: EVENT_SOURCE, detailType: EVENT_DETAIL_TYPE },
        inputTemplate: `{"realm": "${image("realm")}", "deviceId": "${image("deviceId")}", "type": "${image("type")}", "at": "${image("at")}", "serial": "${image("serial")}", "reason": "${image("reason")}"}`,
      },
    });
    // Pipes checks at creation that its role can read the stream: the role's policy must exist first. The role's
    // ARN alone makes CloudFormation wait for the role, not for its default policy (a known CDK gap for CfnPipe).
    pipe.node.addDependency(role);
  }
}
