import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { App, Tags, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { parseStageSettings, type StageSettings } from "./config.ts";
import { StatefulStack } from "./stacks/stateful-stack.ts";
import { StatelessStack } from "./stacks/stateless-stack.ts";

export interface TetherApp {
  readonly app: App;
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
  readonly settings: StageSettings;
}

const { version } = JSON.parse(readFileSync(resolve(import.meta.dirname, "../package.json"), "utf8")) as {
  version: string;
};

/** Builds Tether's stacks from CDK context `tether` (validated), with the AWS Solutions checks on. */
export function buildApp(app = new App()): TetherApp {
  const settings = parseStageSettings(app.node.tryGetContext("tether"));
  // Environment-agnostic unless the stage pins one: synth needs no credentials and makes no lookups.
  const env = {
    ...(settings.account ? { account: settings.account } : {}),
    ...(settings.region ? { region: settings.region } : {}),
  };
  const prefix = `Tether-${settings.stage}`;
  const stateful = new StatefulStack(app, `${prefix}-Stateful`, { settings, env });
  const stateless = new StatelessStack(app, `${prefix}-Stateless`, {
    settings,
    stateful,
    serviceVersion: version,
    env,
  });
  Tags.of(app).add("tether:stage", settings.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stateful, stateless, settings };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildApp().app.synth();
}
