import { Duration, RemovalPolicy, Stack, type StackProps, Validations } from "aws-cdk-lib";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import type { StageSettings } from "../config.ts";
import { CertificateSweeper } from "../constructs/certificate-sweeper.ts";
import { DashboardSite } from "../constructs/dashboard-site.ts";
import { FUNCTION_ACCESS } from "../constructs/function-access.ts";
import { Monitoring } from "../constructs/monitoring.ts";
import { PairingApi } from "../constructs/pairing-api.ts";
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
    this.api = new PairingApi(this, "Pairing", {
      settings,
      table: stateful.table,
      hashKey: stateful.hashKey,
      caArn: stateful.ca.arn,
      caSigningAlgorithm: stateful.ca.signingAlgorithm,
      devicePolicyName: stateful.transport.policyName,
      brokerUrl: stateful.transport.brokerUrl,
      dataPlaneUrl: stateful.transport.dataPlaneUrl,
      serviceVersion: props.serviceVersion,
      logRetention: settings.logRetentionDays,
      removalPolicy: settings.stage === "dev" ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    const sweeper = this.api.functions.get("sweeper");
    if (!sweeper) throw new Error("the sweeper function is missing");
    new CertificateSweeper(this, "Sweeper", { function: sweeper });
    const presence = this.api.functions.get("presence");
    const metadata = this.api.functions.get("metadata");
    if (!presence || !metadata) throw new Error("the transport event functions are missing");
    const removalPolicy = settings.stage === "dev" ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    new TransportEvents(this, "TransportEvents", {
      presence,
      metadata,
      logRetention: settings.logRetentionDays,
      removalPolicy,
    });
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
    for (const [name, fn] of this.api.functions) {
      if (FUNCTION_ACCESS[name].asyncFailures) {
        fn.configureAsyncInvoke({ onFailure: new SqsDestination(failedEvents), retryAttempts: 2 });
      }
    }
    new DashboardSite(this, "Dashboard", {
      appengineUrl: this.api.appengineUrl,
      pairingUrl: this.api.pairingUrl,
      apiOrigin: this.api.apiOrigin,
      removalPolicy: settings.stage === "dev" ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    new Monitoring(this, "Monitoring", {
      api: this.api.api,
      // Every function that answers requests (the 404 and the scheduled sweeper have their own signals).
      functions: [...this.api.functions]
        .filter(([name]) => !["not-found", "sweeper", "presence", "metadata"].includes(name))
        .map(([, fn]) => fn),
      alarmEmail: settings.alarmEmail,
      failedEvents,
    });
  }
}
