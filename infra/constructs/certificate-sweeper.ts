import { Duration } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import { SWEEP_DEFAULTS } from "../../functions/core/use-cases/sweep.ts";
import { type FunctionContext, tetherFunction } from "./tether-function.ts";

/**
 * The sweeper function and what runs it every minute. Each run works for at most SWEEP_DEFAULTS.runSeconds at
 * the pace the sweep lane of the shared AWS request budget admits (its share of the account's quotas), every
 * shard served each round, so what is due leaves
 * IoT within a minute or two of its deadline while the fleet's rate of due items stays under that pace (the
 * backlog alarm says when it does not).
 */
export class CertificateSweeper extends Construct {
  readonly function: IFunction;

  constructor(scope: Construct, id: string, props: { readonly context: FunctionContext }) {
    super(scope, id);
    const { context } = props;
    this.function = tetherFunction(this, "sweeper", context, {
      // Its run, then the items in flight and the backlog measure; the next run starts a minute after this one.
      timeout: Duration.seconds(SWEEP_DEFAULTS.runSeconds + 40),
    });
    new Rule(this, "Schedule", {
      description: "Tether certificate sweeper",
      schedule: Schedule.rate(Duration.seconds(SWEEP_DEFAULTS.periodSeconds)),
      targets: [new LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}
