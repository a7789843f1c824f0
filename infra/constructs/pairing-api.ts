import { CfnOutput, Duration, Validations } from "aws-cdk-lib";
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
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { type HandlerName, ROUTES } from "../../functions/http/routes.ts";
import { type FunctionContext, pascal, tetherFunction } from "./tether-function.ts";

/** The functions the API owns: its route handlers and the `$default` 404. */
export type ApiFunctionName = HandlerName | "not-found";

/** The API is configured from what every function is. */
export type PairingApiProps = FunctionContext;

/**
 * The HTTP API (API Gateway v2) and the functions behind it, one per handler, built from the route table the
 * local server uses too. Pairing and AppEngine routes authorize in the function (realm JWT or credentials secret, as
 * Astarte's API defines); housekeeping routes require IAM (SigV4). Stage throttling and JSON access logs on.
 */
export class PairingApi extends Construct {
  readonly api: HttpApi;
  readonly pairingUrl: string;
  readonly appengineUrl: string;
  /** `https://host` of the API (its custom domain, if set). */
  readonly apiOrigin: string;
  /** The functions behind its routes (the sweeper and the transport event functions live with their owners). */
  readonly functions: ReadonlyMap<ApiFunctionName, IFunction>;

  constructor(scope: Construct, id: string, props: PairingApiProps) {
    super(scope, id);
    // The API's own functions: one per handler of the route table, and the 404.
    const names: ApiFunctionName[] = [...new Set(ROUTES.map((r) => r.handler)), "not-found"];
    const functions = new Map<ApiFunctionName, IFunction>();
    for (const name of names) functions.set(name, tetherFunction(this, name, props));
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
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("missing function");
  return value;
}
