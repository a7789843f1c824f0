import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { devicePolicyDocument } from "../../functions/core/iot-policy.ts";
import { SWEEP_BACKLOG_METRICS, SWEEP_OUTCOMES } from "../../functions/core/use-cases/sweep.ts";
import { REJECTION_CAUSES } from "../../functions/http/errors.ts";
import { ROUTES } from "../../functions/http/routes.ts";
import { buildApp, type TetherApp } from "../../infra/app.ts";
import { FUNCTION_ACCESS } from "../../infra/constructs/function-access.ts";
import { dashboardContentSecurityPolicy } from "../../infra/dashboard-headers.ts";

const cdkJson = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../cdk.json"), "utf8")) as {
  context: Record<string, unknown>;
};

/** IoT actions the Service Authorization Reference lists without a resource type (granted on * or not at all). */
const IOT_WITHOUT_RESOURCE_TYPES = [
  "iot:RegisterCertificateWithoutCA",
  "iot:AttachThingPrincipal",
  "iot:DetachThingPrincipal",
  "iot:ListThingPrincipals",
  "iot:ListThings",
];

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

function synth(tether: Record<string, unknown>): {
  built: TetherApp;
  stateful: Template;
  stateless: Template;
  outdir: string;
} {
  const outdir = mkdtempSync(join(tmpdir(), "tether-cdk-"));
  const built = buildApp(new App({ outdir, context: { ...cdkJson.context, tether } }));
  built.app.synth();
  return {
    built,
    stateful: Template.fromStack(built.stateful),
    stateless: Template.fromStack(built.stateless),
    outdir,
  };
}

describe("Tether's CDK app (stage prod)", () => {
  let t: ReturnType<typeof synth>;
  beforeAll(() => {
    t = synth({ stage: "prod", alarmEmail: "ops@example.com" });
  });

  it("passes the AWS Solutions checks with every acknowledgement named and reasoned", () => {
    // A violation would have thrown from synth(); the report, when written, must show none.
    const report = join(t.outdir, "validation-report.json");
    if (existsSync(report)) {
      const parsed = JSON.parse(readFileSync(report, "utf8")) as {
        pluginReports: { violations: unknown[] }[];
      };
      expect(parsed.pluginReports.flatMap((r) => r.violations)).toEqual([]);
    }
    const acknowledged = JSON.stringify(t.built.app.node.findAll().flatMap((c) => c.node.metadata));
    expect(acknowledged).toContain("AwsSolutions-APIG4");
  });

  it("runs every function on nodejs22.x, arm64, with tracing and its own log group", () => {
    // Tether's own functions (CDK's deployment helpers are checked by cdk-nag, above).
    const functions = Object.entries(t.stateless.findResources("AWS::Lambda::Function"))
      .filter(([id]) => Object.keys(FUNCTION_ACCESS).some((name) => id.startsWith(functionIdPrefix(name))))
      .map(([, fn]) => fn);
    expect(functions).toHaveLength(Object.keys(FUNCTION_ACCESS).length);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        TracingConfig: { Mode: "Active" },
        LoggingConfig: { LogFormat: "JSON", LogGroup: expect.anything() },
      });
      expect(fn.Properties.Environment.Variables).toMatchObject({
        TABLE_NAME: expect.anything(),
        CA_ARN: expect.anything(),
        SECRET_HASH_KEY_SECRET_ARN: expect.anything(),
        DEFAULT_BROKER_URL: expect.anything(),
        POWERTOOLS_SERVICE_NAME: "tether",
      });
    }
  });

  it("ships each function its own handler's bundle, with nothing else in it", () => {
    const functions = t.stateless.findResources("AWS::Lambda::Function");
    const assets = new Map<string, string>();
    for (const name of Object.keys(FUNCTION_ACCESS)) {
      const [logical, fn] = defined(
        Object.entries(functions).find(([id]) => id.startsWith(functionIdPrefix(name))),
      );
      expect(fn.Properties.Handler, logical).toBe("index.handler");
      const key = String(fn.Properties.Code.S3Key);
      const asset = join(t.outdir, `asset.${key.replace(/\.zip$/, "")}`);
      expect(readdirSync(asset).sort(), name).toEqual(["index.mjs", "index.mjs.map"]);
      assets.set(name, readFileSync(join(asset, "index.mjs"), "utf8"));
    }
    expect(new Set(assets.values()).size).toBe(assets.size);
    // Spot checks: a handler's own outcome is in its bundle; health carries no IoT or Private CA client.
    expect(assets.get("health")).toContain("HealthCheckPassed");
    expect(assets.get("device-credentials")).toContain("CertificateIssued");
    expect(assets.get("health")).not.toMatch(/RegisterCertificateWithoutCA|IssueCertificate/);
    // Credentials come from the environment only (Lambda's), not the SDK's whole provider chain.
    for (const code of assets.values()) expect(code).not.toMatch(/AssumeRoleWithWebIdentity|fromSSO/);
    expect(assets.get("device-credentials")).toContain("Unable to find environment variable credentials");
  });

  it("gives each function exactly the actions its access table lists, on scoped resources", () => {
    const policies = t.stateless.findResources("AWS::IAM::Policy");
    const roles = t.stateless.findResources("AWS::IAM::Role");
    const functions = t.stateless.findResources("AWS::Lambda::Function");
    for (const [name, access] of Object.entries(FUNCTION_ACCESS)) {
      const logical = Object.keys(functions).find((id) => id.startsWith(functionIdPrefix(name)));
      expect(logical, name).toBeDefined();
      const roleRef = (defined(functions[logical ?? ""]).Properties.Role as { "Fn::GetAtt": [string] })[
        "Fn::GetAtt"
      ][0];
      expect(roles[roleRef]?.Properties.ManagedPolicyArns, name).toBeUndefined();
      const statements: Statement[] = Object.values(policies)
        .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleRef))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
      const actions = statements.flatMap((s) => [s.Action].flat());
      const expected = [
        ...access.table,
        ...(access.sweepIndex || access.realmIndex ? ["dynamodb:Query"] : []),
        ...(access.ca ?? []),
        ...(access.certificates ?? []),
        ...(access.things ?? []),
        ...(access.iotUnscoped ?? []),
        ...(access.connections ?? []),
        ...(access.asyncFailures ? ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"] : []),
        ...(access.hashKey ? ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"] : []),
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
      ];
      expect(new Set(actions), name).toEqual(new Set(expected));
      for (const statement of statements) {
        for (const action of [statement.Action].flat()) {
          expect(action, name).not.toMatch(/\*/);
        }
        const resources = JSON.stringify(statement.Resource);
        const actionList = [statement.Action].flat();
        // Only actions with no resource type (X-Ray's, and the IoT ones listed as such) are granted on *.
        const unscoped = (a: string) => a.startsWith("xray:") || IOT_WITHOUT_RESOURCE_TYPES.includes(a);
        if (actionList.every(unscoped)) expect(statement.Resource).toBe("*");
        else expect(resources, `${name} ${actionList}`).not.toBe('"*"');
        if (!actionList.every(unscoped) && actionList.some((a) => a.startsWith("iot:")))
          expect(resources).toMatch(/:(cert|thing|client)\/\*"/);
        if (actionList.includes("iot:DeleteConnection")) expect(resources).toMatch(/:client\/\*"/);
      }
    }
  });

  it("runs the sweeper every minute, with time for its run, at the budget's pace, querying only its index", () => {
    t.stateless.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      Targets: [
        Match.objectLike({
          Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("^SweeperFunction"), "Arn"] },
        }),
      ],
    });
    const functions = t.stateless.findResources("AWS::Lambda::Function");
    const sweeper = Object.entries(functions).find(([id]) => id.startsWith("SweeperFunction"))?.[1];
    expect(sweeper?.Properties.Timeout).toBe(90);
    // AWS's default quotas: 8 issuances and 8 swept items a second (core/aws-budget.ts), one budget for all.
    const tetherFunctions = Object.values(functions).filter(
      (fn) => fn.Properties.Environment?.Variables?.TABLE_NAME,
    );
    expect(tetherFunctions.length).toBeGreaterThan(10);
    for (const fn of tetherFunctions) {
      expect(JSON.parse(fn.Properties.Environment.Variables.REQUEST_BUDGET)).toEqual({
        issuance: 8,
        sweep: 8,
        burstSeconds: 1,
      });
    }
    const policies = JSON.stringify(t.stateless.findResources("AWS::IAM::Policy"));
    expect(policies).toContain("/index/by-deadline");
  });

  it("publishes credential events from the table's stream to EventBridge, new event items only", () => {
    t.stateful.hasResourceProperties("AWS::Pipes::Pipe", {
      SourceParameters: Match.objectLike({
        FilterCriteria: {
          Filters: [
            {
              Pattern: JSON.stringify({
                eventName: ["INSERT"],
                dynamodb: { NewImage: { kind: { S: ["event"] } } },
              }),
            },
          ],
        },
      }),
      TargetParameters: Match.objectLike({
        EventBridgeEventBusParameters: {
          Source: "tether.credentials",
          DetailType: "Tether credential event",
        },
      }),
    });
    t.stateful.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      StreamSpecification: { StreamViewType: "NEW_IMAGE" },
    });
  });

  it("feeds IoT lifecycle events and device metadata to their functions through topic rules", () => {
    const rules = Object.values(t.stateless.findResources("AWS::IoT::TopicRule")).map(
      (r) => r.Properties.TopicRulePayload.Sql,
    );
    expect(rules.sort()).toEqual([
      "SELECT clientId, eventType, timestamp, ipAddress, disconnectReason FROM '$aws/events/presence/+/#' " +
        "WHERE eventType = 'connected' OR eventType = 'disconnected'",
      "SELECT topic() AS topic, encode(*, 'base64') AS payload FROM '+/+/metadata'",
    ]);
    t.stateless.resourcePropertiesCountIs("AWS::Lambda::Permission", { Principal: "iot.amazonaws.com" }, 2);
    // Every rule reports a failing action instead of dropping the message.
    for (const rule of Object.values(t.stateless.findResources("AWS::IoT::TopicRule"))) {
      expect(rule.Properties.TopicRulePayload.ErrorAction.CloudwatchLogs.LogGroupName).toBeDefined();
    }
  });

  it("sends events the presence, metadata and sweeper functions fail on to a queue with an alarm", () => {
    const configs = Object.values(t.stateless.findResources("AWS::Lambda::EventInvokeConfig"));
    expect(configs).toHaveLength(3);
    for (const config of configs) {
      expect(config.Properties.MaximumRetryAttempts).toBe(2);
      expect(JSON.stringify(config.Properties.DestinationConfig.OnFailure.Destination)).toContain(
        "FailedEvents",
      );
    }
    const alarms = JSON.stringify(t.stateless.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms).toContain("ApproximateNumberOfMessagesVisible");
    // Off by default: a reservation can fail a first deploy on an account with a small concurrency quota.
    const functions = Object.values(t.stateless.findResources("AWS::Lambda::Function"));
    expect(functions.filter((f) => f.Properties.ReservedConcurrentExecutions !== undefined)).toEqual([]);
  });

  it("lets device-credentials issue only with Tether's passthrough client-auth template", () => {
    const statements = Object.values(t.stateless.findResources("AWS::IAM::Policy")).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as (Statement & { Condition?: unknown })[],
    );
    const issuing = statements.filter((st) => [st.Action].flat().includes("acm-pca:IssueCertificate"));
    expect(issuing).toHaveLength(1);
    expect([issuing[0]?.Action].flat()).toEqual(["acm-pca:IssueCertificate"]);
    expect(JSON.stringify(issuing[0]?.Condition)).toMatch(
      /acm-pca:TemplateArn.*template\/EndEntityClientAuthCertificate_APIPassthrough\/V1/,
    );
  });

  it("deploys the dashboard as a private bucket behind CloudFront, and lets it call the API (CORS)", () => {
    t.stateless.hasResourceProperties("AWS::S3::BucketPolicy", Match.anyValue());
    t.stateless.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({ DefaultRootObject: "index.html" }),
    });
    t.stateless.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      CorsConfiguration: Match.objectLike({ AllowHeaders: ["authorization", "content-type"] }),
    });
    expect(Object.keys(t.stateless.findOutputs("*")).join(" ")).toContain("DashboardUrl");
  });

  it("serves the dashboard with a strict CSP and no framing, the same headers npm start sends", () => {
    const policies = Object.values(t.stateless.findResources("AWS::CloudFront::ResponseHeadersPolicy"));
    expect(policies).toHaveLength(1);
    const security = policies[0]?.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    // The CSP names the API's origin (a token here), so compare it with that part joined back in.
    const csp = JSON.stringify(security.ContentSecurityPolicy.ContentSecurityPolicy);
    for (const directive of dashboardContentSecurityPolicy("API").split("; ")) {
      for (const part of directive.split("API")) expect(csp).toContain(part);
    }
    expect(csp).not.toContain("unsafe-inline");
    expect(security).toMatchObject({
      ContentSecurityPolicy: { Override: true },
      FrameOptions: { FrameOption: "DENY", Override: true },
      ContentTypeOptions: { Override: true },
      ReferrerPolicy: { ReferrerPolicy: "no-referrer", Override: true },
    });
    const distribution = Object.values(t.stateless.findResources("AWS::CloudFront::Distribution"))[0];
    expect(
      distribution?.Properties.DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId,
    ).toBeDefined();
  });

  it("points the functions that close MQTT connections at the account's IoT data endpoint", () => {
    const functions = t.stateless.findResources("AWS::Lambda::Function");
    for (const [name, access] of Object.entries(FUNCTION_ACCESS)) {
      const fn = Object.entries(functions).find(([id]) =>
        id.startsWith(`Pairing${pascal(name)}Function`),
      )?.[1];
      const variables = fn?.Properties.Environment.Variables ?? {};
      if (access.connections) {
        expect(JSON.stringify(variables.AWS_ENDPOINT_URL_IOT_DATA_PLANE), name).toMatch(
          /https:\/\/.*endpointAddress/,
        );
      } else {
        expect(variables.AWS_ENDPOINT_URL_IOT_DATA_PLANE, name).toBeUndefined();
      }
    }
  });

  it("creates a short-lived root CA, activated with its own certificate", () => {
    t.stateful.hasResourceProperties("AWS::ACMPCA::CertificateAuthority", {
      Type: "ROOT",
      UsageMode: "SHORT_LIVED_CERTIFICATE",
      KeyAlgorithm: "EC_prime256v1",
    });
    t.stateful.hasResourceProperties("AWS::ACMPCA::Certificate", {
      TemplateArn: "arn:aws:acm-pca:::template/RootCACertificate/V1",
    });
    t.stateful.hasResourceProperties("AWS::ACMPCA::CertificateAuthorityActivation", { Status: "ACTIVE" });
    t.stateful.hasResource("AWS::ACMPCA::CertificateAuthority", { DeletionPolicy: "Retain" });
    // The id a move to general-purpose keeps it under (the next describe block).
    expect(Object.keys(t.stateful.findResources("AWS::ACMPCA::CertificateAuthority"))).toEqual([
      expect.stringMatching(/^DeviceCaAuthority[0-9A-F]{8}$/),
    ]);
  });

  it("keeps the table: on demand, PITR, TTL, deletion protection, retained outside dev", () => {
    t.stateful.hasResource("AWS::DynamoDB::GlobalTable", {
      DeletionPolicy: "Retain",
      Properties: Match.objectLike({
        BillingMode: "PAY_PER_REQUEST",
        TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
        GlobalSecondaryIndexes: Match.arrayWith([
          Match.objectLike({ IndexName: "by-deadline" }),
          Match.objectLike({ IndexName: "by-realm" }),
          Match.objectLike({ IndexName: "by-view", Projection: { ProjectionType: "KEYS_ONLY" } }),
        ]),
      }),
    });
    // CloudFormation creates or deletes one index per update of a deployed table ("Cannot perform more than one
    // GSI creation or deletion in a single update"): each release may add one. by-view is this release's; the next
    // kind of search is a view on it (README, "Device search"), not a fourth index.
    const [table] = Object.values(t.stateful.findResources("AWS::DynamoDB::GlobalTable"));
    const indexes = (table?.Properties.GlobalSecondaryIndexes ?? []) as { IndexName: string }[];
    expect(indexes.map((i) => i.IndexName)).toEqual(["by-deadline", "by-realm", "by-view"]);
  });

  it("installs the device IoT policy with certificate-CN variables", () => {
    const policies = t.stateful.findResources("AWS::IoT::Policy");
    const [policy] = Object.values(policies);
    const document = JSON.stringify(t.built.stateful.resolve(policy?.Properties.PolicyDocument));
    expect(document).toContain("client/${iot:Certificate.Subject.CommonName}");
    expect(document).toContain("iot:Connection.Thing.IsAttached");
    expect((defined(policy).Properties.PolicyDocument as { Statement: unknown[] }).Statement).toHaveLength(
      (devicePolicyDocument("x").Statement as unknown[]).length,
    );
  });

  it("routes every API path to its function, with IAM only on housekeeping, throttling and access logs", () => {
    const routes = Object.values(t.stateless.findResources("AWS::ApiGatewayV2::Route")).map(
      (r) => r.Properties,
    );
    for (const route of ROUTES) {
      const found = routes.find((r) => r.RouteKey === `${route.method} /${route.api}${route.path}`);
      expect(found, `${route.method} ${route.path}`).toBeDefined();
      expect(found?.AuthorizationType).toBe(route.api === "housekeeping" ? "AWS_IAM" : "NONE");
    }
    expect(routes.some((r) => r.RouteKey === "$default")).toBe(true);
    t.stateless.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
  });

  it("alarms on 5xx, throttles, dependency failures, internal errors and an aging sweep backlog, to an encrypted topic", () => {
    const alarms = Object.values(t.stateless.findResources("AWS::CloudWatch::Alarm"));
    expect([...new Set(alarms.map((a) => a.Properties.AlarmDescription))].sort()).toEqual(
      [
        "A Tether function was throttled by Lambda",
        "More than 1% of API requests answered 5xx",
        "Presence, metadata or sweeper invocations failed after Lambda's retries (see the FailedEvents queue)",
        "Private CA, IoT or DynamoDB throttled Tether",
        "Private CA, IoT or DynamoDB unavailable",
        "Something due has waited over 15 minutes for the sweeper: the fleet's rate of due items is above the sweeper's pace (raise the stage's `quotas` with the account's IoT quotas), or it is failing",
        "The certificate sweeper could not retire some certificates",
        "Unexpected errors in Tether's functions",
      ].sort(),
    );
    t.stateless.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
    t.stateless.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.com",
    });
    t.stateless.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });

  it("alarms and graphs only metrics the code emits (refusals by cause, sweep outcomes)", () => {
    const watched = JSON.stringify([
      t.stateless.findResources("AWS::CloudWatch::Alarm"),
      t.stateless.findResources("AWS::CloudWatch::Dashboard"),
    ]);
    const named = [...new Set(watched.match(/\b(Rejected|Swept)_[A-Za-z_]+/g) ?? [])];
    expect(named.length).toBeGreaterThan(3);
    const emitted = new Set([
      ...REJECTION_CAUSES.map((c) => `Rejected_${c}`),
      ...SWEEP_OUTCOMES.map((o) => `Swept_${o}`),
      ...Object.values(SWEEP_BACKLOG_METRICS),
    ]);
    expect(named.filter((name) => !emitted.has(name))).toEqual([]);
  });

  it("outputs the pairing and AppEngine URLs, the broker URL and the CA ARN", () => {
    expect(Object.keys(t.stateless.findOutputs("*")).join(" ")).toMatch(/PairingUrl.*AppEngineUrl/);
    const own = Object.keys(t.stateful.findOutputs("*")).filter((o) => !o.startsWith("ExportsOutput"));
    expect(own.sort()).toEqual(["BrokerUrl", "CaArn", "EventBusArn"]);
  });
});

describe("stage settings", () => {
  it("destroys data with a dev stack and imports an existing CA instead of creating one", () => {
    const t = synth({
      stage: "dev",
      certificateAuthority: {
        mode: "import",
        arn: "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/12345678-1234-1234-1234-123456789012",
        signingAlgorithm: "SHA256WITHRSA",
      },
      // An account whose IoT certificate quotas were raised: the budget follows the next-lowest call.
      quotas: {
        "iot:RegisterCertificateWithoutCA": 50,
        "iot:DescribeCertificate": 20,
        "iot:UpdateCertificate": 20,
        "iot:DeleteCertificate": 20,
      },
    });
    t.stateful.resourceCountIs("AWS::ACMPCA::CertificateAuthority", 0);
    t.stateful.hasResource("AWS::DynamoDB::GlobalTable", { DeletionPolicy: "Delete" });
    const [fn] = Object.values(t.stateless.findResources("AWS::Lambda::Function"));
    expect(fn?.Properties.Environment.Variables).toMatchObject({
      CA_ARN:
        "arn:aws:acm-pca:eu-west-1:111122223333:certificate-authority/12345678-1234-1234-1234-123456789012",
      CA_SIGNING_ALGORITHM: "SHA256WITHRSA",
    });
    // Issuance bound by AttachPolicy's 15, the sweeper by DetachPolicy's 15: 80 % of each.
    expect(JSON.parse(fn?.Properties.Environment.Variables.REQUEST_BUDGET)).toEqual({
      issuance: 12,
      sweep: 12,
      burstSeconds: 1,
    });
  }, 120_000);

  it("moves to a general-purpose CA beside the short-lived one, which stays trusted and revocable", () => {
    const t = synth({
      stage: "prod",
      certificateAuthority: { mode: "create", usage: "general-purpose" },
      retiringCertificateAuthority: { mode: "create", usage: "short-lived" },
    });
    const cas = t.stateful.findResources("AWS::ACMPCA::CertificateAuthority");
    const byId = Object.fromEntries(
      Object.entries(cas).map(([id, ca]) => [id.replace(/[0-9A-F]{8}$/, ""), ca.Properties.UsageMode]),
    );
    // The short-lived CA under the id it always had: the move adds a CA and replaces none.
    expect(byId).toEqual({
      DeviceCaAuthority: "SHORT_LIVED_CERTIFICATE",
      DeviceCaGeneralPurposeAuthority: "GENERAL_PURPOSE",
    });
    const ids = Object.keys(cas);
    const refOf = (prefix: string) => ({ "Fn::GetAtt": [ids.find((id) => id.startsWith(prefix)), "Arn"] });
    expect(JSON.stringify(t.stateful.findOutputs("RetiringCaArn"))).toContain(
      JSON.stringify(refOf("DeviceCaAuthority")),
    );
    // Every Tether function (CDK's own helpers have no TABLE_NAME) knows the retiring CA.
    const variables = Object.values(t.stateless.findResources("AWS::Lambda::Function"))
      .map((f) => f.Properties.Environment?.Variables ?? {})
      .filter((v) => v.TABLE_NAME !== undefined);
    expect(variables.length).toBeGreaterThan(10);
    expect(variables.filter((v) => v.CA_RETIRING_ARN === undefined)).toEqual([]);
    const statements = Object.values(t.stateless.findResources("AWS::IAM::Policy")).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const withCa = (action: string) => statements.filter((st) => [st.Action].flat().includes(action));
    // Only the new CA issues; revocation and trust reach both.
    expect(withCa("acm-pca:IssueCertificate").map((st) => [st.Resource].flat().length)).toEqual([1]);
    for (const action of ["acm-pca:RevokeCertificate", "acm-pca:GetCertificateAuthorityCertificate"]) {
      expect(
        withCa(action).map((st) => [st.Resource].flat().length),
        action,
      ).toEqual([2]);
    }
  }, 120_000);

  it("refuses invalid settings with a message that names them", () => {
    expect(() =>
      buildApp(new App({ context: { tether: { certificateValiditySeconds: 30 * 86_400 } } })),
    ).toThrow(/tether\.certificateValiditySeconds/);
    expect(() =>
      buildApp(new App({ context: { tether: { certificateAuthority: { mode: "import", arn: "nope" } } } })),
    ).toThrow(/tether\.certificateAuthority/);
    expect(() => buildApp(new App({ context: { tether: { quotas: { "iot:CreateThingz": 5 } } } }))).toThrow(
      /tether\.quotas/,
    );
    // A created CA's mode is fixed: retiring "the same CA" would be retiring the issuing one.
    expect(() =>
      buildApp(
        new App({
          context: {
            tether: {
              certificateAuthority: { mode: "create", usage: "general-purpose" },
              retiringCertificateAuthority: { mode: "create", usage: "general-purpose" },
            },
          },
        }),
      ),
    ).toThrow(/tether\.retiringCertificateAuthority: .*mode is fixed/);
    // The sweeper's old fixed pace is refused with what replaced it, not silently ignored.
    expect(() => buildApp(new App({ context: { tether: { sweeper: { itemsPerSecond: 20 } } } }))).toThrow(
      /tether\.sweeper.*set `quotas`/,
    );
    // `cdk deploy -c tether='{…}'` passes a string.
    expect(() => buildApp(new App({ context: { tether: '{"stage": "Bad Stage"}' } }))).toThrow(
      /tether\.stage/,
    );
  });
});

function pascal(name: string): string {
  return name.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());
}

/**
 * The logical id a function's resources start with: each construct builds the functions it owns (the API its
 * handlers, the sweeper its function, transport events presence and metadata), and CDK drops a repeated id.
 */
function functionIdPrefix(name: string): string {
  if (name === "sweeper") return "SweeperFunction";
  const owner = name === "presence" || name === "metadata" ? "TransportEvents" : "Pairing";
  return `${owner}${pascal(name)}Function`;
}

function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("expected a value");
  return value;
}
