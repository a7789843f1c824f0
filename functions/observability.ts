import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/**
 * Observability of every function, in one module (HTTP routes, the sweeper and the IoT event functions alike):
 * one logger and one metrics instance per container. Service name, log level and metrics namespace come from
 * the Powertools environment the function construct sets. Nothing secret is ever passed to them: no
 * credentials secret, JWT, CSR, certificate or key.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "tether" });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "Tether",
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "tether",
  // Its own warnings go through the structured logger, at the function's log level.
  logger,
});

/*
 * Tracing: functions run with X-Ray active tracing (infra/constructs/node-function.ts), so Lambda records each
 * invocation's segment. Powertools Tracer (captureLambdaHandler, captureAWSv3Client for subsegments per AWS
 * call) is left out on a measurement (`npm run bench`'s bundle figures, 2026-12-03): it adds ~121 KB to every
 * bundle (aws-xray-sdk-core), taking device-credentials to 608 KB, sweeper to 555 KB and device-verify to
 * 542 KB against the 500 KB target, and ~30-50 ms of cold init to functions already at the 125 ms target.
 */
