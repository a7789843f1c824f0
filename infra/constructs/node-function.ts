import { resolve } from "node:path";
import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import type { IRole } from "aws-cdk-lib/aws-iam";
import { Architecture, LoggingFormat, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

const REPO = resolve(import.meta.dirname, "../..");

/** The one runtime every Tether function runs on: change it here. */
export const FUNCTION_RUNTIME = Runtime.NODEJS_22_X;

export interface NodeFunctionProps {
  /** File name in functions/handlers, without `.ts`. */
  readonly handler: string;
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  readonly timeout?: Duration;
  readonly memorySize?: number;
  /** The function's own least-privilege role (it gets its log group and X-Ray here, nothing else). */
  readonly role: IRole;
}

/**
 * One Tether Lambda function: Node 22 on arm64, an ESM bundle with the AWS SDK inside (no runtime-provided
 * SDK version drift), minified with source maps, its own log group with retention, JSON logs, X-Ray tracing and
 * the Powertools environment. The role starts empty; callers grant exactly what the handler calls.
 */
export class NodeFunction extends Construct {
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.function = new NodejsFunction(this, "Function", {
      entry: resolve(REPO, "functions/handlers", `${props.handler}.ts`),
      projectRoot: REPO,
      depsLockFilePath: resolve(REPO, "package-lock.json"),
      handler: "handler",
      role: props.role,
      runtime: FUNCTION_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(15),
      tracing: Tracing.ACTIVE,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: "tether",
        POWERTOOLS_METRICS_NAMESPACE: "Tether",
        POWERTOOLS_LOG_LEVEL: "INFO",
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: "node22",
        platform: "node",
        minify: true,
        sourceMap: true,
        mainFields: ["module", "main"],
        externalModules: [],
        // ESM bundles of CommonJS dependencies still call require(): give them one.
        banner:
          "import{createRequire as __tetherRequire}from'module';const require=__tetherRequire(import.meta.url);",
      },
    });
    logGroup.grantWrite(props.role);
    Validations.of(props.role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "X-Ray PutTraceSegments/PutTelemetryRecords have no resource type; IAM requires *.",
    });
    Validations.of(this.function).acknowledge({
      id: "AwsSolutions-L1",
      reason:
        "Pinned to nodejs22.x on purpose (middy 7 and Powertools need ≥ 22); FUNCTION_RUNTIME changes it in one line.",
    });
  }
}
