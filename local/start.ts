// `npm start`: Tether on one machine. Local AWS (moto) + bootstrap + the local IoT broker.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createAwsClients } from "../functions/adapters/aws-clients.ts";
import { bootstrapLocal } from "./bootstrap.ts";
import { startBroker } from "./broker.ts";
import { startMoto } from "./moto.ts";
import { portFromEnv } from "./ports.ts";

const STATE_DIR = resolve(import.meta.dirname, "..", ".tether");
const awsPort = portFromEnv("TETHER_AWS_PORT", 4566);
const mqttPort = portFromEnv("TETHER_MQTT_PORT", 8883);

const log = (line: string) => console.log(`[tether] ${line}`);
const moto = await startMoto({ port: awsPort, log });
process.env.AWS_ENDPOINT_URL = moto.endpoint;
process.env.AWS_REGION ??= "us-east-1";
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";

const clients = createAwsClients();
const env = await bootstrapLocal(clients);
const broker = await startBroker({
  port: mqttPort,
  tls: { caPem: env.caCertPem, ...env.broker },
  iot: clients.iot,
  policyName: env.policyName,
  recheckIntervalMs: 2_000,
  log: (line) => log(`broker: ${line}`),
});

await mkdir(STATE_DIR, { recursive: true });
const caCertPath = join(STATE_DIR, "ca.pem");
await writeFile(caCertPath, env.caCertPem);

log(`local AWS (moto):  ${moto.endpoint}  (AWS_ENDPOINT_URL)`);
log(`table:             ${env.tableName}`);
log(`private CA:        ${env.caArn}`);
log(`CA certificate:    ${caCertPath}`);
log(`MQTT broker:       ${broker.url}`);
log("Ctrl-C stops everything.");

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  log("stopping…");
  await broker.close();
  await moto.stop();
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
