import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AssetHashType, DockerImage, Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import type { IRole } from "aws-cdk-lib/aws-iam";
import {
  Architecture,
  Code,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
  Tracing,
} from "aws-cdk-lib/aws-lambda";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { LAMBDA_HANDLER, LAMBDA_NODE_OPTIONS } from "../bundling.ts";

const REPO = resolve(import.meta.dirname, "../..");

let bundled: string | undefined;

/**
 * Every handler, bundled once per synth by infra/bundle-handlers.ts (esbuild with Tether's options and
 * plugin, see infra/bundling.ts: CDK's own NodejsFunction cannot run esbuild plugins).
 */
function bundledHandlers(): string {
  if (!bundled) {
    const outdir = mkdtempSync(join(tmpdir(), "tether-bundles-"));
    process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
    execFileSync(process.execPath, ["--import", "tsx", join(REPO, "infra/bundle-handlers.ts"), outdir], {
      cwd: REPO,
      stdio: ["ignore", "inherit", "inherit"],
    });
    bundled = outdir;
  }
  return bundled;
}

/** A handler's bundle (index.mjs and its source map) as the function's code; hashed by its content. */
function handlerCode(handler: string): Code {
  return Code.fromAsset(REPO, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling always succeeds or fails the synth with esbuild's error.
      image: DockerImage.fromRegistry("public.ecr.aws/sam/build-nodejs22.x"),
      // Part of CDK's bundling cache key, which does not see into tryBundle: without it every function
      // would share the first one's bundle.
      environment: { TETHER_HANDLER: handler },
      local: {
        tryBundle(outputDir) {
          cpSync(join(bundledHandlers(), handler), outputDir, { recursive: true });
          return true;
        },
      },
    },
  });
}

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
  /** Executions kept for (and capped at) this function; undefined: it shares the account's pool. */
  readonly reservedConcurrentExecutions?: number | undefined;
  /** The function's own least-privilege role (it gets its log group and X-Ray here, nothing else). */
  readonly role: IRole;
}

/**
 * One Tether Lambda function: Node 22 on arm64, an ESM bundle with the AWS SDK inside (no runtime-provided
 * SDK version drift), minified with source maps (infra/bundling.ts: the bundles `npm run bench` measures),
 * its own log group with retention, JSON logs, X-Ray tracing and the Powertools environment. The role starts
 * empty; callers grant exactly what the handler calls.
 */
export class NodeFunction extends Construct {
  readonly function: LambdaFunction;

  constructor(scope: Construct, id: string, props: NodeFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.function = new LambdaFunction(this, "Function", {
      code: handlerCode(props.handler),
      handler: LAMBDA_HANDLER,
      role: props.role,
      runtime: FUNCTION_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(15),
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      tracing: Tracing.ACTIVE,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      environment: {
        NODE_OPTIONS: LAMBDA_NODE_OPTIONS,
        POWERTOOLS_SERVICE_NAME: "tether",
        POWERTOOLS_METRICS_NAMESPACE: "Tether",
        POWERTOOLS_LOG_LEVEL: "INFO",
        ...props.environment,
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
