import type { PairingDeps } from "../core/pairing-deps.ts";
import { type Clock, systemClock } from "../core/ports/system.ts";
import { LazySecretHasher } from "../core/secrets.ts";
import { type AwsClients, awsClients } from "./aws-clients.ts";
import { type Config, loadConfig } from "./config.ts";
import { DynamoDeviceStore } from "./dynamo-device-store.ts";
import { IotTransportRegistry } from "./iot-transport-registry.ts";
import { PrivateCaAuthority } from "./private-ca-authority.ts";
import { loadSecretKey } from "./secret-key.ts";

/** Wires the adapters for a configuration. `clock` is replaceable so tests move time instead of sleeping. */
export function createPairingDeps(
  config: Config,
  clients: AwsClients,
  clock: Clock = systemClock,
): PairingDeps {
  return {
    store: new DynamoDeviceStore(clients.dynamo, config.TABLE_NAME),
    ca: new PrivateCaAuthority(clients.pca, {
      certificateAuthorityArn: config.CA_ARN,
      signingAlgorithm: config.CA_SIGNING_ALGORITHM,
      clock,
    }),
    transport: new IotTransportRegistry(clients.iot, config.DEVICE_POLICY_NAME),
    clock,
    hasher: new LazySecretHasher(async () =>
      config.SECRET_HASH_KEY
        ? Buffer.from(config.SECRET_HASH_KEY, "base64")
        : loadSecretKey(clients.secrets, config.SECRET_HASH_KEY_SECRET_ARN ?? ""),
    ),
    settings: {
      defaultBrokerUrl: config.DEFAULT_BROKER_URL,
      serviceVersion: config.SERVICE_VERSION,
      defaultCertificateValiditySeconds: config.DEFAULT_CERTIFICATE_VALIDITY_SECONDS,
    },
  };
}

let deps: PairingDeps | undefined;

/** The one place handlers get their dependencies: built from the environment once per container. */
export function pairingDeps(): PairingDeps {
  deps ??= createPairingDeps(loadConfig(), awsClients());
  return deps;
}

/** Replaces the container's dependencies (tests: a moved clock; undefined: rebuild from the environment). */
export function setPairingDeps(next: PairingDeps | undefined): void {
  deps = next;
}
