import { ACMPCAClient } from "@aws-sdk/client-acm-pca";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { IoTClient } from "@aws-sdk/client-iot";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/** The AWS SDK clients Tether uses, built in one place. */
export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  readonly iot: IoTClient;
  readonly pca: ACMPCAClient;
  readonly secrets: SecretsManagerClient;
}

/**
 * Builds the clients. No endpoint is set here on purpose: the SDK reads `AWS_ENDPOINT_URL` (and
 * `AWS_ENDPOINT_URL_<SERVICE>`) itself, which is how the same code reaches moto, LocalStack or AWS.
 * Region and credentials come from the standard provider chain as well.
 */
export function createAwsClients(): AwsClients {
  // Adaptive retry backs off on throttling instead of burning the Lambda's time in a tight loop.
  const common = { maxAttempts: 3, retryMode: "adaptive" } as const;
  return {
    dynamo: new DynamoDBClient(common),
    iot: new IoTClient(common),
    pca: new ACMPCAClient(common),
    secrets: new SecretsManagerClient(common),
  };
}

let cached: AwsClients | undefined;

/** One set of clients per container (module scope), so connections are reused across invocations. */
export function awsClients(): AwsClients {
  cached ??= createAwsClients();
  return cached;
}
