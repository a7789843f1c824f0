// `npm start`: Tether on one machine. Local AWS (moto) + bootstrap + the local IoT broker + the HTTP API in
// front of the same handler modules Lambda runs, a demo realm, and a walkthrough to pair a device.
import "./function-env-first.ts";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { exportPKCS8, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { createAwsClients } from "../functions/adapters/aws-clients.ts";
import { SWEEP_SHARDS } from "../functions/adapters/table-schema.ts";
import { TimerSweepSchedule } from "../functions/adapters/timer-sweep-schedule.ts";
import { randomDeviceId } from "../functions/contracts/ids.ts";
import type { PairingDeps } from "../functions/core/pairing-deps.ts";
import { boundedRun, sweep } from "../functions/core/use-cases/sweep.ts";
import { recordMetadata, recordPresence } from "../functions/core/use-cases/transport-events.ts";
import { startApiServer } from "./api-server.ts";
import { bootstrapLocal } from "./bootstrap.ts";
import { startBroker } from "./broker.ts";
import { DASHBOARD_GRANTS } from "./dashboard-grants.ts";
import { startIotDataPlane } from "./iot-data-plane.ts";
import { LOCAL_CONFIG_PATH, type LocalConfig, STATE_DIR } from "./local-config.ts";
import { startMoto } from "./moto.ts";
import { portFromEnv, portProblems } from "./ports.ts";
import { printable } from "./printable.ts";
import { lambdaAwsEnv, localAwsTarget, localFunctionEnv, localPairingDeps } from "./tether-env.ts";

const REALM = "demo";
const apiPort = portFromEnv("TETHER_API_PORT", 4000);
const awsPort = portFromEnv("TETHER_AWS_PORT", 4566);
const mqttPort = portFromEnv("TETHER_MQTT_PORT", 8883);
const sweepIntervalSeconds = Math.max(1, Number(process.env.TETHER_SWEEP_INTERVAL_SECONDS ?? 60) || 60);
/**
 * Every line printed here may carry text a device chose (its MQTT client id, its metadata): control characters
 * are escaped, so a device can neither forge a `[tether]` line with a newline nor send terminal escapes.
 */
const log = (line: string) => console.log(`[tether] ${printable(line)}`);

// TETHER_AWS_ENDPOINT points at an AWS emulator that is already running (LocalStack); otherwise start moto.
const external = process.env.TETHER_AWS_ENDPOINT;

// Refuse unusable ports at once, before anything starts (not late, with `fetch failed … bad port`).
const problems = await portProblems([
  { name: "TETHER_API_PORT", port: apiPort, http: true },
  ...(external ? [] : [{ name: "TETHER_AWS_PORT", port: awsPort, http: true }]),
  { name: "TETHER_MQTT_PORT", port: mqttPort, http: false },
]);
if (problems.length > 0) {
  for (const problem of problems) console.error(`[tether] could not start: ${problem}`);
  process.exit(1);
}
const moto = external
  ? { endpoint: external, stop: async () => {} }
  : await startMoto({ port: awsPort, log });
const stops: (() => Promise<void>)[] = [() => moto.stop()];
let stopping = false;
async function stop(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    log("stopping…");
    for (const s of stops.reverse()) await s().catch(() => {});
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());

try {
  // moto gets dummies (never a developer's real keys); an external emulator gets what the shell has.
  const shellKeys =
    external && process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY }
      : undefined;
  const aws = localAwsTarget(moto.endpoint, shellKeys);
  const clients = createAwsClients(aws);
  const env = await bootstrapLocal(clients);
  // Tether's ports for what this process does itself (presence, metadata, the sweeper), wired from values once
  // IoT's data plane stand-in is up; the broker reports nothing before a device connects.
  let deps: PairingDeps | undefined;
  const ready = () => {
    if (!deps) throw new Error("not started yet");
    return deps;
  };
  const broker = await startBroker({
    port: mqttPort,
    tls: { caPem: env.caCertPem, ...env.broker },
    iot: clients.iot,
    policyName: env.policyName,
    recheckIntervalMs: 2_000,
    log: (line) => log(`broker: ${line}`),
    // What IoT Core's lifecycle events and metadata topic rule feed on AWS: the same use-cases.
    onPresence: ({ clientId, connected, ip, disconnectReason }) => {
      Promise.resolve()
        .then(() => recordPresence(ready(), { clientId, connected, at: new Date(), ip, disconnectReason }))
        .catch((error: unknown) => log(`presence of ${clientId} not recorded: ${(error as Error).message}`));
    },
    onPublish: ({ clientId, topic, payload }) => {
      if (topic !== `${clientId}/metadata`) return;
      log(`metadata from ${clientId}: ${payload.toString("utf8").slice(0, 500)}`);
      Promise.resolve()
        .then(() => recordMetadata(ready(), { topic, payload }))
        .then(
          (outcome) => outcome === "recorded" || log(`metadata from ${clientId} ignored: ${outcome}`),
          (error: unknown) => log(`metadata of ${clientId} not recorded: ${(error as Error).message}`),
        );
    },
  });
  stops.push(() => broker.close());
  // IoT Core's data plane (DeleteConnection) in front of the broker; the handlers' SDK client is sent there.
  const dataPlane = await startIotDataPlane(broker);
  stops.push(() => dataPlane.close());
  const functionsAws = { ...aws, iotDataEndpoint: dataPlane.endpoint };

  const brokerUrl = `mqtts://localhost:${broker.port}/`;
  const functionEnv = localFunctionEnv(env, brokerUrl);
  deps = localPairingDeps(functionEnv, createAwsClients(functionsAws));
  // The API server runs the Lambda handlers in this process: like on AWS, they read their configuration from
  // the environment Lambda gives them. Nothing else here reads it back.
  Object.assign(process.env, lambdaAwsEnv(functionsAws), functionEnv);
  const adminToken = randomBytes(24).toString("hex");
  // The dashboard gets a realm JWT minted for it (local only: the server listens on loopback).
  let dashboardToken = "";
  const api = await startApiServer({
    port: apiPort,
    adminToken,
    dashboard: () => ({
      appengineUrl: `${api.url}/appengine`,
      pairingUrl: `${api.url}/pairing`,
      realm: REALM,
      token: dashboardToken,
      metadataColumns: ["model", "mac"],
    }),
  });
  stops.push(() => api.close());

  // The sweeper runs on a timer here, one run at a time, as EventBridge runs it every minute on AWS
  // (core/ports/sweep-schedule.ts states how the two differ).
  const sweeps = new TimerSweepSchedule(sweepIntervalSeconds * 1000, (error) =>
    log(`sweep failed: ${(error as Error).message}`),
  ).start(async () => {
    const report = await sweep(ready(), boundedRun(SWEEP_SHARDS, Number.POSITIVE_INFINITY));
    if (report.found > 0) log(`sweep: ${JSON.stringify(report.outcomes)}`);
  });
  stops.push(() => sweeps.stop());

  // Files a device, the CLI and the walkthrough read.
  await mkdir(STATE_DIR, { recursive: true });
  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const paths = {
    realmKey: join(STATE_DIR, `${REALM}-realm-key.pem`),
    brokerCa: join(STATE_DIR, "broker-ca.pem"),
    ca: join(STATE_DIR, "ca.pem"),
    adminToken: join(STATE_DIR, "admin-token"),
  };
  await writeFile(paths.realmKey, await exportPKCS8(privateKey), { mode: 0o600 });
  await chmod(paths.realmKey, 0o600);
  await writeFile(paths.adminToken, adminToken, { mode: 0o600 });
  await chmod(paths.adminToken, 0o600);
  // Locally the broker's certificate comes from the same private CA; on AWS it is Amazon's (Amazon Root CA 1).
  await writeFile(paths.brokerCa, env.caCertPem);
  await writeFile(paths.ca, env.caCertPem);

  const created = await fetch(`${api.url}/housekeeping/v1/realms`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ data: { realm_name: REALM, jwt_public_key_pem: await exportSPKI(publicKey) } }),
  });
  if (created.status !== 201)
    throw new Error(`creating the demo realm answered ${created.status}: ${await created.text()}`);
  // Only what the dashboard calls (local/dashboard-grants.ts): no realm settings, no other route.
  dashboardToken = await new SignJWT(DASHBOARD_GRANTS)
    .setProtectedHeader({ alg: "ES256" })
    .setExpirationTime("12h")
    .sign(privateKey);

  const config: LocalConfig = {
    pairingUrl: `${api.url}/pairing`,
    appengineUrl: `${api.url}/appengine`,
    realm: REALM,
    realmPrivateKeyPath: paths.realmKey,
    brokerUrl,
    brokerCaPath: paths.brokerCa,
    caCertPath: paths.ca,
    awsEndpoint: moto.endpoint,
  };
  await writeFile(LOCAL_CONFIG_PATH, `${JSON.stringify(config, null, 2)}\n`);
  console.log(walkthrough(config, api.url, broker.port, paths, broker.protocolVersions));
} catch (error) {
  console.error("[tether] could not start:", error);
  await stop(1);
}

function walkthrough(
  config: LocalConfig,
  apiUrl: string,
  mqtt: number,
  paths: Record<string, string>,
  mqttVersions: readonly number[],
): string {
  const repo = resolve(import.meta.dirname, "..");
  const stateEnv = process.env.TETHER_STATE_DIR ? `TETHER_STATE_DIR=${STATE_DIR} ` : "";
  const device = randomDeviceId();
  const py = (expr: string) => `python3 -c 'import json,sys; print(${expr}, end="")'`;
  return `
Tether is running locally (state lives in memory: a restart starts from scratch).

  Dashboard        ${apiUrl}/   (the demo realm, signed in for you)
  Pairing API      ${config.pairingUrl}
  AppEngine API    ${config.appengineUrl}
  Housekeeping     ${apiUrl}/housekeeping   (Authorization: Bearer $(cat ${paths.adminToken}))
  MQTT broker      ${config.brokerUrl}   (trust ${config.brokerCaPath}; MQTT ${mqttVersions.map((v) => (v === 4 ? "3.1.1" : String(v))).join(" and ")}, IoT Core's rules)
  Local AWS        ${config.awsEndpoint}   (AWS_ENDPOINT_URL, for the aws CLI or SDKs)
  Demo realm       ${config.realm}   (JWT key ${config.realmPrivateKeyPath})
  Settings         ${LOCAL_CONFIG_PATH}

Pair a demo device, in another terminal (a scratch folder is fine; needs curl, openssl, python3):

  TOKEN=$(${stateEnv}npm --prefix ${repo} run --silent jwt)        # realm JWT with a_pa and a_aea, 1 hour
  DEVICE=${device}
  curl -s -X POST ${config.pairingUrl}/v1/${config.realm}/agent/devices -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' -d "{\\"data\\":{\\"hw_id\\":\\"$DEVICE\\"}}" > register.json
  SECRET=$(${py('json.load(open("register.json"))["data"]["credentials_secret"]')})
  curl -s ${config.pairingUrl}/v1/${config.realm}/devices/$DEVICE -H "Authorization: Bearer $SECRET"; echo
  openssl ecparam -name prime256v1 -genkey -noout -out device.key
  openssl req -new -key device.key -subj "/CN=${config.realm}\\/$DEVICE/O=Devices" -out device.csr
  ${py('json.dumps({"data": {"csr": open("device.csr").read()}})')} > csr.json
  curl -s -X POST ${config.pairingUrl}/v1/${config.realm}/devices/$DEVICE/protocols/astarte_mqtt_v1/credentials \\
    -H "Authorization: Bearer $SECRET" -H 'Content-Type: application/json' -d @csr.json > credentials.json
  ${py('json.load(open("credentials.json"))["data"]["client_crt"]')} > device.crt
  ${repo}/node_modules/.bin/mqtt pub -C mqtts -h localhost -p ${mqtt} --ca ${config.brokerCaPath} \\
    --key device.key --cert device.crt -i "${config.realm}/$DEVICE" -t "${config.realm}/$DEVICE/metadata" \\
    -m '{"model":"MySmartMeter A300"}' && echo published

Ctrl-C stops everything.`;
}
