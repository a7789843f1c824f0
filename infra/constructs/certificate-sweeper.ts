import { Duration } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import { type FunctionContext, tetherFunction } from "./tether-function.ts";

/**
 * The sweeper function and what runs it every 5 minutes: expired and superseded certificates leave IoT within
 * minutes of their deadline, never piling up as live orphans.
 */
export class CertificateSweeper extends Construct {
  readonly function: IFunction;

  constructor(scope: Construct, id: string, props: { readonly context: FunctionContext }) {
    super(scope, id);
    // It works through a bounded batch; every other function answers an HTTP request or one event.
    this.function = tetherFunction(this, "sweeper", props.context, { timeout: Duration.minutes(5) });
    new Rule(this, "Schedule", {
      description: "Tether certificate sweeper",
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [new LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}
