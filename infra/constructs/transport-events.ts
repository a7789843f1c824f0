import { Stack } from "aws-cdk-lib";
import { ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnTopicRule } from "aws-cdk-lib/aws-iot";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";

export interface TransportEventsProps {
  readonly presence: IFunction;
  readonly metadata: IFunction;
}

/**
 * IoT Core → Tether: lifecycle events (connected/disconnected) and what devices report on
 * `<realm>/<id>/metadata`, each through a topic rule to its function. Only IoT Core publishes on
 * `$aws/events`, so presence cannot be forged by a device; the metadata topic is the device's own (its policy).
 */
export class TransportEvents extends Construct {
  constructor(scope: Construct, id: string, props: TransportEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const rule = (name: string, sql: string, fn: IFunction) => {
      const topicRule = new CfnTopicRule(this, name, {
        topicRulePayload: {
          sql,
          awsIotSqlVersion: "2016-03-23",
          ruleDisabled: false,
          actions: [{ lambda: { functionArn: fn.functionArn } }],
        },
      });
      fn.addPermission(`${name}Invoke`, {
        principal: new ServicePrincipal("iot.amazonaws.com"),
        sourceArn: topicRule.attrArn,
        sourceAccount: stack.account,
      });
    };
    rule(
      "Presence",
      "SELECT clientId, eventType, timestamp, ipAddress FROM '$aws/events/presence/#'",
      props.presence,
    );
    rule(
      "Metadata",
      "SELECT topic() AS topic, encode(*, 'base64') AS payload FROM '+/+/metadata'",
      props.metadata,
    );
  }
}
