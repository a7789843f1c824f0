import { Stack } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnTopicRule } from "aws-cdk-lib/aws-iot";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { type FunctionContext, tetherFunction } from "./tether-function.ts";

export interface TransportEventsProps {
  readonly context: FunctionContext;
}

/**
 * IoT Core → Tether: lifecycle events (connected/disconnected) and what devices report on
 * `<realm>/<id>/metadata`, each through a topic rule to its function. Only IoT Core publishes on
 * `$aws/events`, so presence cannot be forged by a device; the metadata topic is the device's own (its policy).
 */
export class TransportEvents extends Construct {
  /** The presence and metadata functions, which the topic rules invoke. */
  readonly functions: ReadonlyMap<"presence" | "metadata", IFunction>;

  constructor(scope: Construct, id: string, props: TransportEventsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { context } = props;
    const reserved = context.settings.reservedConcurrency;
    const presence = tetherFunction(this, "presence", context, {
      reservedConcurrentExecutions: reserved.presence,
    });
    const metadata = tetherFunction(this, "metadata", context, {
      reservedConcurrentExecutions: reserved.metadata,
    });
    this.functions = new Map([
      ["presence", presence],
      ["metadata", metadata],
    ]);
    // A rule whose action fails (the function throttled or gone) says so here instead of dropping the message.
    const errors = new LogGroup(this, "RuleErrors", {
      retention: context.logRetention,
      removalPolicy: context.removalPolicy,
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
      "PresenceRule",
      // Connections and disconnections only (not connect failures), with the reason a session ended: a
      // DUPLICATE_CLIENTID disconnection is the device's own reconnection and must not mark it disconnected.
      "SELECT clientId, eventType, timestamp, ipAddress, disconnectReason FROM '$aws/events/presence/+/#' " +
        "WHERE eventType = 'connected' OR eventType = 'disconnected'",
      presence,
    );
    rule(
      "MetadataRule",
      "SELECT topic() AS topic, encode(*, 'base64') AS payload FROM '+/+/metadata'",
      metadata,
    );
  }
}
