import { type RemovalPolicy, Stack } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnTopicRule } from "aws-cdk-lib/aws-iot";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

export interface TransportEventsProps {
  readonly presence: IFunction;
  readonly metadata: IFunction;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
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
    // A rule whose action fails (the function throttled or gone) says so here instead of dropping the message.
    const errors = new LogGroup(this, "RuleErrors", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const errorRole = new Role(this, "RuleErrorRole", {
      assumedBy: new ServicePrincipal("iot.amazonaws.com"),
    });
    errors.grantWrite(errorRole);
    const rule = (name: string, sql: string, fn: IFunction) => {
      const topicRule = new CfnTopicRule(this, name, {
        topicRulePayload: {
          sql,
          awsIotSqlVersion: "2016-03-23",
          ruleDisabled: false,
          actions: [{ lambda: { functionArn: fn.functionArn } }],
          errorAction: { cloudwatchLogs: { logGroupName: errors.logGroupName, roleArn: errorRole.roleArn } },
        },
      });
      topicRule.node.addDependency(errorRole);
      fn.addPermission(`${name}Invoke`, {
        principal: new ServicePrincipal("iot.amazonaws.com"),
        sourceArn: topicRule.attrArn,
        sourceAccount: stack.account,
      });
    };
    rule(
      "Presence",
      // Connections and disconnections only (not connect failures), with the reason a session ended: a
      // DUPLICATE_CLIENTID disconnection is the device's own reconnection and must not mark it disconnected.
      "SELECT clientId, eventType, timestamp, ipAddress, disconnectReason FROM '$aws/events/presence/+/#' " +
        "WHERE eventType = 'connected' OR eventType = 'disconnected'",
      props.presence,
    );
    rule(
      "Metadata",
      "SELECT topic() AS topic, encode(*, 'base64') AS payload FROM '+/+/metadata'",
      props.metadata,
    );
  }
}
