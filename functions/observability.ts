import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/**
 * One logger and one metrics instance per container. Service name, log level and metrics namespace come from
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
