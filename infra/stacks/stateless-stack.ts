import { Duration, RemovalPolicy, Stack, type StackProps, Validations } from "aws-cdk-lib";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import type { StageSettings } from "../config.ts";
import { CertificateSweeper } from "../constructs/certificate-sweeper.ts";
import { DashboardSite } from "../constructs/dashboard-site.ts";
import { FUNCTION_ACCESS, type FunctionName } from "../constructs/function-access.ts";
import { Monitoring } from "../constructs/monitoring.ts";
import { PairingApi } from "../constructs/pairing-api.ts";
import type { FunctionContext } from "../constructs/tether-function.ts";
import { TransportEvents } from "../constructs/transport-events.ts";
import type { StatefulStack } from "./stateful-stack.ts";

export interface StatelessStackProps extends StackProps {
  readonly settings: StageSettings;
  readonly stateful: StatefulStack;
  readonly serviceVersion: string;
}

/** What can be replaced at will: the API, its functions, alarms and dashboard. */
export class StatelessStack extends Stack {
  readonly api: PairingApi;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { settings, stateful } = props;
    const removalPolicy = settings.stage === "dev" ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    // What every function is configured from; each construct builds the functions it owns.
    const context: FunctionContext = {
      settings,
      table: stateful.table,
      hashKey: stateful.hashKey,
      caArn: stateful.ca.arn,
      retiringCaArn: stateful.retiringCa?.arn,
      caSigningAlgorithm: stateful.ca.signingAlgorithm,
      devicePolicyName: stateful.transport.policyName,
      brokerUrl: stateful.transport.brokerUrl,
      dataPlaneUrl: stateful.transport.dataPlaneUrl,
      serviceVersion: props.serviceVersion,
      logRetention: settings.logRetentionDays,
      removalPolicy,
    };
    this.api = new PairingApi(this, "Pairing", context);
    const sweeper = new CertificateSweeper(this, "Sweeper", { context });
    const transportEvents = new TransportEvents(this, "TransportEvents", { context });
    // Invoked asynchronously (IoT rules, EventBridge): an event that still fails after Lambda's retries lands
    // here, and the alarm below says so, instead of vanishing.
    const failedEvents = new Queue(this, "FailedEvents", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(failedEvents).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "This queue is the dead-letter destination itself (async invocation failures); it has an alarm.",
    });
    const eventFunctions = new Map<FunctionName, IFunction>([
      ["sweeper", sweeper.function],
      ...transportEvents.functions,
    ]);
    for (const [name, fn] of [...this.api.functions, ...eventFunctions]) {
      if (FUNCTION_ACCESS[name].asyncFailures) {
        fn.configureAsyncInvoke({ onFailure: new SqsDestination(failedEvents), retryAttempts: 2 });
      }
    }
    new DashboardSite(this, "Dashboard", {
      appengineUrl: this.api.appengineUrl,
      pairingUrl: this.api.pairingUrl,
      apiOrigin: this.api.apiOrigin,
      removalPolicy,
    });
    new Monitoring(this, "Monitoring", {
      api: this.api.api,
      // Every function that answers requests (the 404 and the event-driven functions have their own signals).
      functions: [...this.api.functions].filter(([name]) => name !== "not-found").map(([, fn]) => fn),
      alarmEmail: settings.alarmEmail,
      failedEvents,
    });
  }
}
