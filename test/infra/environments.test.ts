import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../infra/app.ts";

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

const cdkJson = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../cdk.json"), "utf8")) as {
  context: Record<string, unknown>;
};

/**
 * Synthesizes the app the ways users deploy it: README's exact command (a region), the same with an account,
 * and no environment at all, for a dev and a prod stage. cdk-nag runs on every synth; acknowledgements that
 * named `<AWS::Region>` literally stopped matching once a stack was bound to an environment, and the synth of
 * README's own deploy command failed.
 */
const ENVIRONMENTS = {
  "no environment": {},
  "region only (README's deploy command)": { region: "eu-west-1" },
  "account and region": { region: "eu-west-1", account: "111122223333" },
} as const;

it("reserves concurrency for presence and metadata only when the stage asks", () => {
  const outdir = mkdtempSync(join(tmpdir(), "tether-cdk-env-"));
  const tether = { stage: "prod", reservedConcurrency: { presence: 20, metadata: 10 } };
  const built = buildApp(new App({ outdir, context: { ...cdkJson.context, tether } }));
  built.app.synth();
  const functions = Template.fromStack(built.stateless).findResources("AWS::Lambda::Function");
  const reserved = Object.fromEntries(
    Object.entries(functions)
      .filter(([, f]) => f.Properties.ReservedConcurrentExecutions !== undefined)
      .map(([id, f]) => [
        id.replace(/^(?:Pairing|TransportEvents|Sweeper)(\w+?)Function.*$/, "$1"),
        f.Properties.ReservedConcurrentExecutions,
      ]),
  );
  expect(reserved).toEqual({ Presence: 20, Metadata: 10 });
});

it("refuses at synth a region that lacks a service the stacks use, naming it", () => {
  for (const [region, service] of [
    ["il-central-1", "EventBridge Pipes"],
    ["us-gov-west-1", "CloudFront"],
    ["cn-north-1", "CloudFront"],
  ] as const) {
    expect(() => buildApp(new App({ context: { tether: { region } } }))).toThrow(
      new RegExp(`tether\\.region: ${region} lacks .*${service}`),
    );
  }
  expect(() => buildApp(new App({ context: { tether: { region: "xx-nowhere-1" } } }))).toThrow(
    /not a region CloudFormation knows/,
  );
});

const cases = (["dev", "prod"] as const).flatMap((stage) =>
  Object.entries(ENVIRONMENTS).map(([label, env]) => [stage, label, env] as const),
);

describe("the CDK app in every environment", () => {
  it.each(cases)("stage %s, %s: synthesizes with 0 unacknowledged cdk-nag findings", (stage, _label, env) => {
    const outdir = mkdtempSync(join(tmpdir(), "tether-cdk-env-"));
    const tether = { stage, alarmEmail: "ops@example.com", ...env };
    const built = buildApp(new App({ outdir, context: { ...cdkJson.context, tether } }));
    // A finding throws here (the validation plugin fails the synth).
    expect(() => built.app.synth()).not.toThrow();
    const report = join(outdir, "validation-report.json");
    if (existsSync(report)) {
      const parsed = JSON.parse(readFileSync(report, "utf8")) as {
        pluginReports: { violations: unknown[] }[];
      };
      expect(parsed.pluginReports.flatMap((r) => r.violations)).toEqual([]);
    }

    const stateful = Template.fromStack(built.stateful);
    const stateless = Template.fromStack(built.stateless);
    // The Pipe waits for its role's policy: Pipes checks at creation that it can read the stream.
    const pipe = Object.values(stateful.findResources("AWS::Pipes::Pipe"))[0];
    const policies = Object.keys(stateful.findResources("AWS::IAM::Policy"));
    const pipePolicy = policies.find((id) => id.startsWith("EventsPipeRoleDefaultPolicy"));
    expect(pipePolicy).toBeDefined();
    expect(pipe?.DependsOn).toEqual(expect.arrayContaining([pipePolicy]));

    // Alarms reach their topic: a customer-managed key CloudWatch may use, and a topic policy that lets it publish.
    const topic = Object.values(stateless.findResources("AWS::SNS::Topic"))[0];
    const keyRef = JSON.stringify(topic?.Properties.KmsMasterKeyId);
    expect(keyRef).not.toContain("alias/aws/sns");
    const keys = stateless.findResources("AWS::KMS::Key");
    const alarmKey = Object.entries(keys).find(([id]) => keyRef.includes(id))?.[1];
    expect(alarmKey?.Properties.EnableKeyRotation).toBe(true);
    const forCloudWatch = (statements: Statement[]) =>
      statements.filter(
        (st) => st.Effect === "Allow" && JSON.stringify(st.Principal).includes("cloudwatch.amazonaws.com"),
      );
    const keyStatements = forCloudWatch(alarmKey?.Properties.KeyPolicy.Statement ?? []);
    expect(keyStatements.flatMap((st) => [st.Action].flat())).toEqual([
      "kms:Decrypt",
      "kms:GenerateDataKey*",
    ]);
    const topicStatements = forCloudWatch(
      Object.values(stateless.findResources("AWS::SNS::TopicPolicy")).flatMap(
        (p) => p.Properties.PolicyDocument.Statement as Statement[],
      ),
    );
    expect(topicStatements.flatMap((st) => [st.Action].flat())).toEqual(["sns:Publish"]);
    expect(JSON.stringify(topicStatements[0]?.Condition)).toContain("aws:SourceAccount");
  });
});
