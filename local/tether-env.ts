import { randomBytes } from "node:crypto";
import type { AwsClients, AwsTarget } from "../functions/adapters/aws-clients.ts";
import { ENV, loadConfig } from "../functions/adapters/config.ts";
import { createPairingDeps } from "../functions/adapters/container.ts";
import type { BudgetRates } from "../functions/core/aws-budget.ts";
import type { PairingDeps } from "../functions/core/pairing-deps.ts";
import type { LocalEnvironment } from "./bootstrap.ts";

/**
 * The environment the Lambda handlers read, for a locally bootstrapped stack: the same variables the CDK
 * stack sets on AWS. Metrics are off locally (they would only print EMF JSON) and logs are quiet. The AWS
 * request budget is the one AWS's default quotas give (as a default stage gets) unless `requestBudget` says
 * otherwise: tests and benchmarks that measure something else lift it.
 */
export function localFunctionEnv(
  env: Pick<LocalEnvironment, "tableName" | "caArn" | "policyName">,
  brokerUrl: string,
  requestBudget?: BudgetRates,
): Record<string, string> {
  return {
    ...(requestBudget ? { [ENV.requestBudget]: JSON.stringify(requestBudget) } : {}),
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

/**
 * The AWS a local tool talks to, as values: an emulator's endpoint, a region, and dummy keys (never a
 * developer's real ones) unless `credentials` says otherwise (an external emulator gets what the shell has).
 */
export function localAwsTarget(
  endpoint: string,
  credentials?: { accessKeyId: string; secretAccessKey: string },
): AwsTarget {
  return {
    endpoint,
    region: process.env.AWS_REGION ?? "us-east-1",
    credentials: credentials ?? { accessKeyId: "test", secretAccessKey: "test" },
  };
}

/**
 * The same AWS as the environment Lambda gives its functions: the in-process handlers of the local API server
 * are Lambda functions and read their configuration from `process.env`, as on AWS. Only they read it back.
 */
export function lambdaAwsEnv(target: AwsTarget): Record<string, string> {
  return {
    ...(target.endpoint ? { AWS_ENDPOINT_URL: target.endpoint } : {}),
    ...(target.iotDataEndpoint ? { AWS_ENDPOINT_URL_IOT_DATA_PLANE: target.iotDataEndpoint } : {}),
    ...(target.region ? { AWS_REGION: target.region } : {}),
    ...(target.credentials
      ? {
          AWS_ACCESS_KEY_ID: target.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: target.credentials.secretAccessKey,
        }
      : {}),
  };
}

/**
 * Tether's ports for a locally bootstrapped stack, wired from values (no trip through `process.env`): the same
 * function environment the in-process handlers get, so both hash secrets with the same key.
 */
export function localPairingDeps(functionEnv: Record<string, string>, clients: AwsClients): PairingDeps {
  return createPairingDeps(loadConfig(functionEnv), clients);
}
