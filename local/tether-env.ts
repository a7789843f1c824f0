import { randomBytes } from "node:crypto";
import { ENV } from "../functions/adapters/config.ts";
import type { LocalEnvironment } from "./bootstrap.ts";

/**
 * The environment the Lambda handlers read, for a locally bootstrapped stack: the same variables the CDK
 * stack sets on AWS. Metrics are off locally (they would only print EMF JSON) and logs are quiet.
 */
export function localFunctionEnv(
  env: Pick<LocalEnvironment, "tableName" | "caArn" | "policyName">,
  brokerUrl: string,
): Record<string, string> {
  return {
    [ENV.tableName]: env.tableName,
    [ENV.caArn]: env.caArn,
    [ENV.devicePolicyName]: env.policyName,
    [ENV.defaultBrokerUrl]: brokerUrl,
    [ENV.secretHashKey]: randomBytes(32).toString("base64"),
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
    POWERTOOLS_SERVICE_NAME: "tether-local",
  };
}
