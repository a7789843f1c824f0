import { CfnOutput, Duration, type RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import {
  type CfnStage,
  CorsHttpMethod,
  DomainName,
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { Certificate } from "aws-cdk-lib/aws-certificatemanager";
import type { TableV2 } from "aws-cdk-lib/aws-dynamodb";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { ENV } from "../../functions/adapters/config.ts";
import { issuanceTemplateArn } from "../../functions/adapters/private-ca-authority.ts";
import { REALM_INDEX, SWEEP_INDEX } from "../../functions/adapters/table-schema.ts";
import { ROUTES } from "../../functions/http/routes.ts";
import type { StageSettings } from "../config.ts";
import { FUNCTION_ACCESS, type FunctionName } from "./function-access.ts";
import { nagId } from "./nag-ids.ts";
import { NodeFunction } from "./node-function.ts";

export interface PairingApiProps {
  readonly settings: StageSettings;
  readonly table: TableV2;
  readonly hashKey: Secret;
  readonly caArn: string;
  readonly caSigningAlgorithm: string;
  readonly devicePolicyName: string;
  readonly brokerUrl: string;
  /** The account's IoT data-plane endpoint (`https://…-ats.iot…`), for the functions that close connections. */
  readonly dataPlaneUrl: string;
  readonly serviceVersion: string;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The HTTP API (API Gateway v2) and one function per handler, built from the route table the local server
 * uses too. Pairing and AppEngine routes authorize in the function (realm JWT or credentials secret, as
 * Astarte's API defines); housekeeping routes require IAM (SigV4). Stage throttling and JSON access logs on.
 */
export class PairingApi extends Construct {
  readonly api: HttpApi;
  readonly pairingUrl: string;
  readonly appengineUrl: string;
  /** `https://host` of the API (its custom domain, if set). */
  readonly apiOrigin: string;
  readonly functions: ReadonlyMap<FunctionName, IFunction>;

  constructor(scope: Construct, id: string, props: PairingApiProps) {
    super(scope, id);
    const environment = {
      [ENV.tableName]: props.table.tableName,
      [ENV.caArn]: props.caArn,
      [ENV.caSigningAlgorithm]: props.caSigningAlgorithm,
      [ENV.devicePolicyName]: props.devicePolicyName,
      [ENV.defaultBrokerUrl]: props.brokerUrl,
      [ENV.secretHashKeySecretArn]: props.hashKey.secretArn,
      [ENV.serviceVersion]: props.serviceVersion,
      [ENV.defaultCertificateValiditySeconds]: String(props.settings.certificateValiditySeconds),
    };

    const functions = new Map<FunctionName, IFunction>();
    for (const name of Object.keys(FUNCTION_ACCESS) as FunctionName[]) {
      const fn = new NodeFunction(this, pascal(name), {
        handler: name,
        // The SDK reads AWS_ENDPOINT_URL_IOT_DATA_PLANE itself: the account's own data endpoint, as AWS advises.
        environment: FUNCTION_ACCESS[name].connections
          ? { ...environment, AWS_ENDPOINT_URL_IOT_DATA_PLANE: props.dataPlaneUrl }
          : environment,
        logRetention: props.logRetention,
        removalPolicy: props.removalPolicy,
        role: this.roleFor(name, props),
        reservedConcurrentExecutions:
          name === "presence" || name === "metadata" ? props.settings.reservedConcurrency[name] : undefined,
        // The sweeper works through a bounded batch; everything else answers an HTTP request.
        ...(name === "sweeper" ? { timeout: Duration.minutes(5) } : {}),
      }).function;
      functions.set(name, fn);
    }
    this.functions = functions;

    const customDomain = props.settings.customDomain
      ? new DomainName(this, "Domain", {
          domainName: props.settings.customDomain.domainName,
          certificate: Certificate.fromCertificateArn(
            this,
            "DomainCertificate",
            props.settings.customDomain.certificateArn,
          ),
        })
      : undefined;
    this.api = new HttpApi(this, "Api", {
      description: "Tether pairing, AppEngine and housekeeping APIs",
      defaultIntegration: new HttpLambdaIntegration("NotFound", required(functions.get("not-found"))),
      ...(customDomain ? { defaultDomainMapping: { domainName: customDomain } } : {}),
      // The dashboard (another origin) calls the API with a bearer token, never cookies: any origin may.
      corsPreflight: {
        allowOrigins: ["*"],
        allowHeaders: ["authorization", "content-type"],
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.PATCH, CorsHttpMethod.DELETE],
        maxAge: Duration.hours(1),
      },
    });
    const integrations = new Map<string, HttpLambdaIntegration>();
    const iam = new HttpIamAuthorizer();
    for (const route of ROUTES) {
      let integration = integrations.get(route.handler);
      if (!integration) {
        integration = new HttpLambdaIntegration(
          pascal(route.handler),
          required(functions.get(route.handler)),
        );
        integrations.set(route.handler, integration);
      }
      this.api.addRoutes({
        path: `/${route.api}${route.path}`,
        methods: [HttpMethod[route.method]],
        integration,
        authorizer: route.auth === "iam" ? iam : new HttpNoneAuthorizer(),
      });
    }

    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const stage = this.api.defaultStage?.node.defaultChild as CfnStage;
    stage.defaultRouteSettings = {
      throttlingRateLimit: props.settings.throttling.rateLimit,
      throttlingBurstLimit: props.settings.throttling.burstLimit,
    };
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: "$context.requestId",
        ip: "$context.identity.sourceIp",
        requestTime: "$context.requestTime",
        routeKey: "$context.routeKey",
        status: "$context.status",
        latency: "$context.responseLatency",
        integrationError: "$context.integrationErrorMessage",
      }),
    };
    // Device and agent routes are authorized by the functions (credentials secret or realm JWT), as the
    // Astarte wire contract requires; an API Gateway authorizer cannot express either.
    Validations.of(this.api).acknowledge({
      id: "AwsSolutions-APIG4",
      reason:
        "Pairing and AppEngine routes authorize in the function (Astarte's credentials secret or realm JWT).",
    });

    const base = customDomain ? `https://${props.settings.customDomain?.domainName}` : this.api.apiEndpoint;
    this.apiOrigin = base;
    this.pairingUrl = `${base}/pairing`;
    this.appengineUrl = `${base}/appengine`;
    new CfnOutput(this, "PairingUrl", { value: this.pairingUrl, description: "Pairing API base URL" });
    new CfnOutput(this, "AppEngineUrl", {
      value: `${base}/appengine`,
      description: "AppEngine API base URL",
    });
    new CfnOutput(this, "HousekeepingUrl", {
      value: `${base}/housekeeping`,
      description: "Housekeeping API base URL (IAM, SigV4)",
    });
  }

  /** A role that allows exactly {@link FUNCTION_ACCESS} for this function, plus its own logs and traces. */
  private roleFor(name: FunctionName, props: PairingApiProps): Role {
    const stack = Stack.of(this);
    const access = FUNCTION_ACCESS[name];
    const role = new Role(this, `${pascal(name)}Role`, {
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
    if (access.hashKey) props.hashKey.grantRead(role);
    if (access.ca) {
      // IssueCertificate only with the one template Tether uses (client auth, subject passed through): the
      // role cannot mint a CA certificate or any other kind from the private CA.
      const issue = access.ca.filter((a) => a === "acm-pca:IssueCertificate");
      const others = access.ca.filter((a) => a !== "acm-pca:IssueCertificate");
      if (others.length > 0) {
        role.addToPolicy(new PolicyStatement({ actions: others, resources: [props.caArn] }));
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
}

function pascal(name: string): string {
  return name.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase());
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("missing function");
  return value;
}
