import { Duration } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";

/**
 * Runs the sweeper every 5 minutes: expired and superseded certificates leave IoT within minutes of their
 * deadline, never piling up as live orphans.
 */
export class CertificateSweeper extends Construct {
  constructor(scope: Construct, id: string, props: { readonly function: IFunction }) {
    super(scope, id);
    new Rule(this, "Schedule", {
      description: "Tether certificate sweeper",
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [new LambdaFunction(props.function, { retryAttempts: 0 })],
    });
  }
}
