import { Duration, Stack } from "aws-cdk-lib";
import type { HttpApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { SWEEP_BACKLOG_METRICS } from "../../functions/core/use-cases/sweep.ts";
import { REJECTION_CAUSES } from "../../functions/http/errors.ts";

export interface MonitoringProps {
  readonly api: HttpApi;
  readonly functions: readonly IFunction[];
  readonly alarmEmail: string | undefined;
  /** Where asynchronously invoked functions' failed events land (presence, metadata, sweeper). */
  readonly failedEvents: IQueue;
}

const PERIOD = Duration.minutes(5);

/** Tether's own business metrics (Powertools EMF, namespace Tether, dimension service=tether). */
const tetherMetric = (metricName: string, label = metricName) =>
  new Metric({
    namespace: "Tether",
    metricName,
    dimensionsMap: { service: "tether" },
    statistic: "Sum",
    period: PERIOD,
    label,
  });

/**
 * Alarms on what hurts a fleet (5xx rate, Lambda throttles, Private CA or IoT throttling and outages,
 * unexpected errors) to an encrypted SNS topic, and a dashboard of issuance and rejection by cause.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    // A key of our own: CloudWatch cannot use the AWS-managed alias/aws/sns key, so alarms sent to a topic
    // encrypted with it never arrive. This key lets CloudWatch encrypt what it publishes, and the topic lets
    // CloudWatch alarms of this account publish (enforceSSL alone leaves only a Deny in the topic policy).
    const key = new Key(this, "AlarmsKey", {
      description: "Tether alarm topic",
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        conditions: { StringEquals: { "aws:SourceAccount": Stack.of(this).account } },
      }),
    );
    this.topic = new Topic(this, "Alarms", { enforceSSL: true, masterKey: key });
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { "aws:SourceAccount": Stack.of(this).account },
          ArnLike: {
            "aws:SourceArn": `arn:${Stack.of(this).partition}:cloudwatch:${Stack.of(this).region}:${Stack.of(this).account}:alarm:*`,
          },
        },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);

    const requests = props.api.metricCount({ period: PERIOD, statistic: "Sum" });
    const serverErrors = props.api.metricServerError({ period: PERIOD, statistic: "Sum" });
    const errorRate = new MathExpression({
      expression: "IF(requests > 20, 100 * errors / requests, 0)",
      usingMetrics: { requests, errors: serverErrors },
      label: "5xx %",
      period: PERIOD,
    });
    // CloudWatch math alarms take at most 10 metrics: one throttle alarm per group of ten functions.
    const throttleGroups: MathExpression[] = [];
    for (let start = 0; start < props.functions.length; start += 10) {
      const group = props.functions.slice(start, start + 10);
      throttleGroups.push(
        new MathExpression({
          expression: group.map((_, i) => `t${i}`).join(" + "),
          usingMetrics: Object.fromEntries(
            group.map((fn, i) => [`t${i}`, fn.metricThrottles({ period: PERIOD })]),
          ),
          label: "Lambda throttles",
          period: PERIOD,
        }),
      );
    }

    const alarms: [string, MathExpression | Metric, number, string][] = [
      ["ServerErrorRate", errorRate, 1, "More than 1% of API requests answered 5xx"],
      ...throttleGroups.map(
        (metric, i) =>
          [`LambdaThrottles${i + 1}`, metric, 1, "A Tether function was throttled by Lambda"] as [
            string,
            MathExpression,
            number,
            string,
          ],
      ),
      [
        "DependencyThrottled",
        tetherMetric("Rejected_THROTTLED"),
        5,
        "Private CA, IoT or DynamoDB throttled Tether",
      ],
      [
        "DependencyUnavailable",
        tetherMetric("Rejected_DEPENDENCY_UNAVAILABLE"),
        1,
        "Private CA, IoT or DynamoDB unavailable",
      ],
      ["InternalErrors", tetherMetric("Rejected_INTERNAL"), 1, "Unexpected errors in Tether's functions"],
      [
        "SweeperFailures",
        tetherMetric("Swept_failed"),
        1,
        "The certificate sweeper could not retire some certificates",
      ],
      [
        "SweepBacklogAging",
        new Metric({
          namespace: "Tether",
          metricName: SWEEP_BACKLOG_METRICS.oldestAge,
          dimensionsMap: { service: "tether" },
          statistic: "Maximum",
          period: PERIOD,
        }),
        900,
        "Something due has waited over 15 minutes for the sweeper: the fleet's rate of due items is above the sweeper's pace (raise the stage's `quotas` with the account's IoT quotas), or it is failing",
      ],
      [
        "FailedAsyncEvents",
        props.failedEvents.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
        1,
        "Presence, metadata or sweeper invocations failed after Lambda's retries (see the FailedEvents queue)",
      ],
    ];
    for (const [name, metric, threshold, description] of alarms) {
      new Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      }).addAlarmAction(action);
    }

    new Dashboard(this, "Dashboard", {
      widgets: [
        [
          new GraphWidget({ title: "API requests and 5xx", left: [requests, serverErrors], width: 12 }),
          new GraphWidget({
            title: "API latency p90",
            left: [props.api.metricLatency({ period: PERIOD, statistic: "p90" })],
            width: 12,
          }),
        ],
        [
          new GraphWidget({
            title: "Fleet",
            left: ["DeviceRegistered", "CertificateIssued", "VerifiedValid", "DeviceUnregistered"].map((m) =>
              tetherMetric(m),
            ),
            width: 12,
          }),
          new GraphWidget({
            title: "Rejected by cause",
            left: REJECTION_CAUSES.map((c) => tetherMetric(`Rejected_${c}`, c)),
            width: 12,
          }),
        ],
      ],
    });
  }
}
