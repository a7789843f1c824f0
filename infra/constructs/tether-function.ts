import { type Duration, type RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { ENV } from "../../functions/adapters/config.ts";
import { issuanceTemplateArn } from "../../functions/adapters/private-ca-authority.ts";
import { REALM_INDEX, SWEEP_INDEX, VIEW_INDEX } from "../../functions/adapters/table-schema.ts";
import { type StageSettings, stageBudgetRates } from "../config.ts";
import { FUNCTION_ACCESS, type FunctionName } from "./function-access.ts";
import { nagId } from "./nag-ids.ts";
import { NodeFunction } from "./node-function.ts";

/** What every Tether function is configured from: the stateful resources and the stage's settings. */
export interface FunctionContext {
  readonly settings: StageSettings;
  readonly table: TableV2;
  readonly hashKey: Secret;
  readonly caArn: string;
  /** A CA being retired: verify trusts it and the sweeper revokes at it; nothing issues from it. */
  readonly retiringCaArn?: string | undefined;
  readonly caSigningAlgorithm: string;
  readonly devicePolicyName: string;
  readonly brokerUrl: string;
  /** The account's IoT data-plane endpoint (`https://…-ats.iot…`), for the functions that close connections. */
  readonly dataPlaneUrl: string;
  readonly serviceVersion: string;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

export interface TetherFunctionOptions {
  /** Variables only this function reads, beside the ones every function gets. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly timeout?: Duration;
  /** Executions kept for (and capped at) this function; undefined: it shares the account's pool. */
  readonly reservedConcurrentExecutions?: number | undefined;
}

/**
 * Builds one of Tether's functions in the construct that owns it (the API's in the API, the sweeper in the
 * sweeper, …): its bundle, its environment, and a role granting exactly its row of {@link FUNCTION_ACCESS}.
 * Ids are `<Name>` and `<Name>Role` in `scope`.
 */
export function tetherFunction(
  scope: Construct,
  name: FunctionName,
  context: FunctionContext,
  options: TetherFunctionOptions = {},
): IFunction {
  const environment = {
    [ENV.tableName]: context.table.tableName,
    [ENV.caArn]: context.caArn,
    ...(context.retiringCaArn ? { [ENV.retiringCaArn]: context.retiringCaArn } : {}),
    [ENV.caSigningAlgorithm]: context.caSigningAlgorithm,
    [ENV.devicePolicyName]: context.devicePolicyName,
    [ENV.defaultBrokerUrl]: context.brokerUrl,
    [ENV.secretHashKeySecretArn]: context.hashKey.secretArn,
    [ENV.serviceVersion]: context.serviceVersion,
    [ENV.defaultCertificateValiditySeconds]: String(context.settings.certificateValiditySeconds),
    // Every function admitting AWS work reads it; one value for all, so they share one budget's cells.
    [ENV.requestBudget]: JSON.stringify(stageBudgetRates(context.settings)),
    // The SDK reads AWS_ENDPOINT_URL_IOT_DATA_PLANE itself: the account's own data endpoint, as AWS advises.
    ...(FUNCTION_ACCESS[name].connections ? { AWS_ENDPOINT_URL_IOT_DATA_PLANE: context.dataPlaneUrl } : {}),
    ...options.environment,
  };
  return new NodeFunction(scope, pascal(name), {
    handler: name,
    environment,
    logRetention: context.logRetention,
    removalPolicy: context.removalPolicy,
    role: roleFor(scope, name, context),
    reservedConcurrentExecutions: options.reservedConcurrentExecutions,
    ...(options.timeout ? { timeout: options.timeout } : {}),
  }).function;
}

/** A role that allows exactly {@link FUNCTION_ACCESS} for this function, plus its own logs and traces. */
function roleFor(scope: Construct, name: FunctionName, props: FunctionContext): Role {
  const stack = Stack.of(scope);
  const access = FUNCTION_ACCESS[name];
  const role = new Role(scope, `${pascal(name)}Role`, {
    assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
    description: `Tether ${name}: only what its handler calls`,
  });
  if (access.table.length > 0) {
    role.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: [...access.table],
        resources: [props.table.tableArn],
      }),
    );
  }
  if (access.sweepIndex) {
    role.addToPolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: [`${props.table.tableArn}/index/${SWEEP_INDEX.name}`],
      }),
    );
  }
  if (access.realmIndex) {
    role.addToPolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: [`${props.table.tableArn}/index/${REALM_INDEX.name}`],
      }),
    );
  }
  if (access.viewIndex) {
    role.addToPolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: [`${props.table.tableArn}/index/${VIEW_INDEX.name}`],
      }),
    );
  }
  if (access.hashKey) props.hashKey.grantRead(role);
  if (access.ca) {
    // IssueCertificate only with the one template Tether uses (client auth, subject passed through): the
    // role cannot mint a CA certificate or any other kind from the private CA. Only the issuing CA issues; a
    // retiring one is read and revoked at.
    const issue = access.ca.filter((a) => a === "acm-pca:IssueCertificate");
    const others = access.ca.filter((a) => a !== "acm-pca:IssueCertificate");
    if (others.length > 0) {
      const cas = props.retiringCaArn ? [props.caArn, props.retiringCaArn] : [props.caArn];
      role.addToPolicy(new PolicyStatement({ actions: others, resources: cas }));
    }
    if (issue.length > 0) {
      role.addToPolicy(
        new PolicyStatement({
          actions: issue,
          resources: [props.caArn],
          conditions: { StringEquals: { "acm-pca:TemplateArn": issuanceTemplateArn(stack.partition) } },
        }),
      );
    }
  }
  const iot = `arn:${stack.partition}:iot:${stack.region}:${stack.account}`;
  if (access.certificates) {
    role.addToPolicy(
      new PolicyStatement({ actions: [...access.certificates], resources: [`${iot}:cert/*`] }),
    );
    Validations.of(role).acknowledge({
      id: nagId(
        role,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:cert/*]`,
      ),
      reason: "IoT certificate ids are created at run time (SHA-256 of each device certificate).",
    });
  }
  if (access.things) {
    role.addToPolicy(new PolicyStatement({ actions: [...access.things], resources: [`${iot}:thing/*`] }));
    Validations.of(role).acknowledge({
      id: nagId(
        role,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:thing/*]`,
      ),
      reason: "One IoT thing per device, named at registration time.",
    });
  }
  if (access.connections) {
    role.addToPolicy(
      new PolicyStatement({ actions: [...access.connections], resources: [`${iot}:client/*`] }),
    );
    Validations.of(role).acknowledge({
      id: nagId(
        role,
        `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:client/*]`,
      ),
      reason: "Every device's MQTT client id (<realm>/<device_id>) is made at registration time.",
    });
  }
  if (access.iotUnscoped) {
    role.addToPolicy(new PolicyStatement({ actions: [...access.iotUnscoped], resources: ["*"] }));
    Validations.of(role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: `${access.iotUnscoped.join(", ")} support no resource-level permissions (Service Authorization Reference): IAM grants them on * only. X-Ray's actions have no resource type either.`,
    });
  }
  return role;
}

export function pascal(name: string): string {
  return name.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());
}
