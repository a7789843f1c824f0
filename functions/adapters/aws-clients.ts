import { ACMPCAClient } from "@aws-sdk/client-acm-pca";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { IoTClient } from "@aws-sdk/client-iot";
import { IoTDataPlaneClient } from "@aws-sdk/client-iot-data-plane";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/** The AWS SDK clients Tether uses, built in one place. */
export interface AwsClients {
  readonly dynamo: DynamoDBClient;
  readonly iot: IoTClient;
  /** IoT Core's data plane (`iot:Data-ATS`): connections of MQTT clients. */
  readonly iotData: IoTDataPlaneClient;
  readonly pca: ACMPCAClient;
  readonly secrets: SecretsManagerClient;
}

// Adaptive retry backs off on throttling instead of burning the Lambda's time in a tight loop.
const COMMON = { maxAttempts: 3, retryMode: "adaptive" } as const;

/**
 * Where clients built by local tools and tests go, given as values. Unset fields come from the standard
 * chains, as in Lambda: the SDK reads `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) itself, which is
 * how the same code reaches moto, LocalStack or AWS.
 */
export interface AwsTarget {
  readonly endpoint?: string;
  /** IoT Core's data plane, where it is not `endpoint` (the local broker's DeleteConnection stand-in). */
  readonly iotDataEndpoint?: string;
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** Builds the clients, for `target` or, without one, from the environment and the provider chain. */
export function createAwsClients(target: AwsTarget = {}): AwsClients {
  const common = {
    ...COMMON,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.region ? { region: target.region } : {}),
    ...(target.credentials ? { credentials: target.credentials } : {}),
  };
  const iotDataEndpoint = target.iotDataEndpoint ?? target.endpoint;
  return {
    dynamo: new DynamoDBClient(common),
    iot: new IoTClient(common),
    iotData: new IoTDataPlaneClient({ ...common, ...(iotDataEndpoint ? { endpoint: iotDataEndpoint } : {}) }),
    pca: new ACMPCAClient(common),
    secrets: new SecretsManagerClient(common),
  };
}

/*
 * One client of each kind per container (module scope), so connections are reused across invocations. Each
 * is its own function so a handler's bundle carries only the clients it calls.
 */
let dynamo: DynamoDBClient | undefined;
let iot: IoTClient | undefined;
let iotData: IoTDataPlaneClient | undefined;
let pca: ACMPCAClient | undefined;
let secrets: SecretsManagerClient | undefined;

export function dynamoDbClient(): DynamoDBClient {
  dynamo ??= new DynamoDBClient(COMMON);
  return dynamo;
}

export function iotClient(): IoTClient {
  iot ??= new IoTClient(COMMON);
  return iot;
}

export function iotDataPlaneClient(): IoTDataPlaneClient {
  iotData ??= new IoTDataPlaneClient(COMMON);
  return iotData;
}

export function acmPcaClient(): ACMPCAClient {
  pca ??= new ACMPCAClient(COMMON);
  return pca;
}

export function secretsManagerClient(): SecretsManagerClient {
  secrets ??= new SecretsManagerClient(COMMON);
  return secrets;
}
