import { ShardedBudget } from "../core/aws-budget.ts";
import type { PairingDeps } from "../core/pairing-deps.ts";
import type { CertificateAuthority } from "../core/ports/certificate-authority.ts";
import type { ConnectionControl } from "../core/ports/connection-control.ts";
import type { RequestBudget } from "../core/ports/request-budget.ts";
import { type Clock, systemClock } from "../core/ports/system.ts";
import type { TransportRegistry } from "../core/ports/transport-registry.ts";
import { type CredentialsHasher, LazySecretHasher } from "../core/secrets.ts";
import {
  type AwsClients,
  acmPcaClient,
  dynamoDbClient,
  iotClient,
  iotDataPlaneClient,
  secretsManagerClient,
} from "./aws-clients.ts";
import { type Config, loadConfig } from "./config.ts";
import { DynamoBudgetCells } from "./dynamo/budget-cells.ts";
import { createDynamoStore } from "./dynamo/index.ts";
import { IotConnectionControl } from "./iot-connection-control.ts";
import { IotTransportRegistry } from "./iot-transport-registry.ts";
import { PrivateCaAuthority } from "./private-ca-authority.ts";
import { loadSecretKey } from "./secret-key.ts";

/*
 * The one place adapters are built. A handler asks for exactly the ports its use-case takes — the record
 * (`baseDeps`), the secret hasher, the certificate authority, the transport — so its bundle carries only the
 * AWS clients it calls: `health` has no IoT or Private CA client in it, `device-credentials` has all four.
 */

/** The ports every handler has: the device record (DynamoDB), the clock and the service settings. */
export type BaseDeps = Pick<PairingDeps, "store" | "clock" | "settings">;

function settingsOf(config: Config): PairingDeps["settings"] {
  return {
    defaultBrokerUrl: config.DEFAULT_BROKER_URL,
    serviceVersion: config.SERVICE_VERSION,
    defaultCertificateValiditySeconds: config.DEFAULT_CERTIFICATE_VALIDITY_SECONDS,
  };
}

const storeOf = (config: Config, clients: Pick<AwsClients, "dynamo">) =>
  createDynamoStore(clients.dynamo, config.TABLE_NAME);

const caOf = (config: Config, clients: Pick<AwsClients, "pca">, clock: Clock) =>
  new PrivateCaAuthority(clients.pca, {
    certificateAuthorityArn: config.CA_ARN,
    retiringCertificateAuthorityArn: config.CA_RETIRING_ARN,
    signingAlgorithm: config.CA_SIGNING_ALGORITHM,
    clock,
  });

const budgetOf = (config: Config, clients: Pick<AwsClients, "dynamo">) =>
  new ShardedBudget(new DynamoBudgetCells(clients.dynamo, config.TABLE_NAME), config.REQUEST_BUDGET);

const transportOf = (config: Config, clients: Pick<AwsClients, "iot">) =>
  new IotTransportRegistry(clients.iot, config.DEVICE_POLICY_NAME);

/** The key comes from the environment locally and from Secrets Manager on AWS, read on first use. */
const hasherOf = (config: Config, secrets: () => AwsClients["secrets"]) =>
  new LazySecretHasher(async () =>
    config.SECRET_HASH_KEY
      ? Buffer.from(config.SECRET_HASH_KEY, "base64")
      : loadSecretKey(secrets(), config.SECRET_HASH_KEY_SECRET_ARN ?? ""),
  );

/** Wires every adapter for a configuration (tests, the local server). `clock` is replaceable so tests move time. */
export function createPairingDeps(
  config: Config,
  clients: AwsClients,
  clock: Clock = systemClock,
): PairingDeps {
  return {
    store: storeOf(config, clients),
    ca: caOf(config, clients, clock),
    transport: transportOf(config, clients),
    connections: new IotConnectionControl(clients.iotData),
    budget: budgetOf(config, clients),
    clock,
    hasher: hasherOf(config, () => clients.secrets),
    settings: settingsOf(config),
  };
}

// Built from the environment once per container, each on first use; replaced as a whole by setPairingDeps.
let replaced: PairingDeps | undefined;
let config: Config | undefined;
let base: BaseDeps | undefined;
let hasher: CredentialsHasher | undefined;
let ca: CertificateAuthority | undefined;
let transport: TransportRegistry | undefined;
let connections: ConnectionControl | undefined;
let budget: RequestBudget | undefined;

const environment = () => {
  config ??= loadConfig();
  return config;
};

export function baseDeps(): BaseDeps {
  if (replaced) return replaced;
  base ??= {
    store: storeOf(environment(), { dynamo: dynamoDbClient() }),
    clock: systemClock,
    settings: settingsOf(environment()),
  };
  return base;
}

export function credentialsHasher(): CredentialsHasher {
  if (replaced) return replaced.hasher;
  hasher ??= hasherOf(environment(), secretsManagerClient);
  return hasher;
}

export function certificateAuthority(): CertificateAuthority {
  if (replaced) return replaced.ca;
  ca ??= caOf(environment(), { pca: acmPcaClient() }, systemClock);
  return ca;
}

export function transportRegistry(): TransportRegistry {
  if (replaced) return replaced.transport;
  transport ??= transportOf(environment(), { iot: iotClient() });
  return transport;
}

export function connectionControl(): ConnectionControl {
  if (replaced) return replaced.connections;
  connections ??= new IotConnectionControl(iotDataPlaneClient());
  return connections;
}

/** The shared AWS request budget (issuance and the sweeper). */
export function requestBudget(): RequestBudget {
  if (replaced) return replaced.budget;
  budget ??= budgetOf(environment(), { dynamo: dynamoDbClient() });
  return budget;
}

/** Every port: for credentials issuance (whose use-case calls them all), and the local server and tests. */
export function pairingDeps(): PairingDeps {
  return {
    ...baseDeps(),
    hasher: credentialsHasher(),
    ca: certificateAuthority(),
    transport: transportRegistry(),
    connections: connectionControl(),
    budget: requestBudget(),
  };
}

/** Replaces the container's dependencies (tests: a moved clock; undefined: rebuild from the environment). */
export function setPairingDeps(next: PairingDeps | undefined): void {
  replaced = next;
  if (!next) config = base = hasher = ca = transport = connections = budget = undefined;
}
