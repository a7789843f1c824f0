import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { createAwsClients } from "../../functions/adapters/aws-clients.ts";
import { createDynamoStore } from "../../functions/adapters/dynamo/index.ts";
import { recordMetadata, recordPresence } from "../../functions/core/use-cases/transport-events.ts";
import { bootstrapLocal } from "../../local/bootstrap.ts";
import { type Broker, type BrokerTls, startBroker } from "../../local/broker.ts";
import { type IotDataPlane, startIotDataPlane } from "../../local/iot-data-plane.ts";
import { type MotoServer, startMoto } from "../../local/moto.ts";
import { freePort } from "../../local/ports.ts";
import { LOCAL_AWS_ENV } from "./local-aws-env.ts";

declare module "vitest" {
  export interface ProvidedContext {
    awsEndpoint: string;
    /** The local IoT data-plane front (DeleteConnection) of the broker. */
    iotDataEndpoint: string;
    brokerPort: number;
    brokerAdminUrl: string;
    brokerAdminToken: string;
    /** moto can be reset between files; an external endpoint (LocalStack) is used as it is. */
    resetBetweenFiles: boolean;
  }
}

/**
 * Starts the local AWS (moto) and the local IoT data plane (broker) once per run, on free ports, and tells
 * the test workers where they are. Each test file then resets and re-bootstraps (the per-file setup), and
 * hands the broker its new trust anchor through a loopback admin endpoint guarded by a random token.
 */
interface PublishedMessage {
  readonly clientId: string;
  readonly topic: string;
  readonly payload: string;
}
/** What devices published, newest last: tests read it as a topic rule's target would receive it. */
const published: PublishedMessage[] = [];

/**
 * The test bed's control channel to the broker (this process), on loopback with a random token:
 * `PUT /tls` swaps its CA and certificate after a reset; `POST /publish` sends as the service; `GET /published`
 * lists what devices published.
 */
async function handleAdmin(
  broker: Broker,
  method: string,
  url: string,
  body: string,
): Promise<{ status: number; body: string }> {
  if (method === "PUT" && url === "/tls") {
    broker.setTls(JSON.parse(body) as BrokerTls);
    return { status: 204, body: "" };
  }
  if (method === "POST" && url === "/publish") {
    const { topic, payload } = JSON.parse(body) as { topic: string; payload: string };
    await broker.publish(topic, payload);
    return { status: 204, body: "" };
  }
  if (method === "GET" && url === "/published") return { status: 200, body: JSON.stringify(published) };
  return { status: 404, body: "" };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let moto: MotoServer | undefined;
  let broker: Broker | undefined;
  let admin: Server | undefined;
  let dataPlane: IotDataPlane | undefined;
  const external = process.env.TETHER_AWS_ENDPOINT;
  if (!external) {
    try {
      moto = await startMoto({ port: await freePort(), log: (line) => console.log(`[local-aws] ${line}`) });
    } catch (error) {
      throw new Error(
        `The integration tests need the local AWS emulator (moto): ${(error as Error).message}`,
      );
    }
  }
  const awsEndpoint = external ?? moto?.endpoint ?? "";
  Object.assign(process.env, LOCAL_AWS_ENV(awsEndpoint));
  const env = await bootstrapLocal(createAwsClients());
  const clients = createAwsClients();
  // The broker feeds presence and metadata into the same use-cases as IoT Core's rules do on AWS.
  const transportDeps = { store: createDynamoStore(clients.dynamo, env.tableName) };
  const quietly = (work: Promise<unknown>) => work.catch(() => {});
  broker = await startBroker({
    onPresence: ({ clientId, connected, ip, disconnectReason }) =>
      void quietly(
        recordPresence(transportDeps, { clientId, connected, at: new Date(), ip, disconnectReason }),
      ),
    onPublish: (message) => {
      if (message.topic === `${message.clientId}/metadata`)
        void quietly(recordMetadata(transportDeps, message));
      published.push({
        clientId: message.clientId,
        topic: message.topic,
        payload: message.payload.toString("utf8"),
      });
      if (published.length > 1000) published.shift();
    },
    port: await freePort(),
    tls: { caPem: env.caCertPem, ...env.broker },
    iot: clients.iot,
    policyName: env.policyName,
    recheckIntervalMs: 200,
    // TETHER_BROKER_LOG=1 shows what the broker admits and refuses, and why.
    ...(process.env.TETHER_BROKER_LOG ? { log: (line: string) => console.log(`[broker] ${line}`) } : {}),
    // The MQTT 5 tests need mosquitto behind the front; `.ci/run` installs it, setup:local-aws unpacks it.
    backend: "mosquitto",
  }).catch((error: unknown) => {
    throw new Error(`The MQTT tests need the local IoT Core broker: ${(error as Error).message}`);
  });

  dataPlane = await startIotDataPlane(broker);
  const token = randomBytes(24).toString("hex");
  const activeBroker = broker;
  admin = createServer((request, response) => {
    if (request.headers.authorization !== `Bearer ${token}`) {
      response.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      handleAdmin(
        activeBroker,
        request.method ?? "",
        request.url ?? "",
        Buffer.concat(chunks).toString(),
      ).then(
        ({ status, body }) => response.writeHead(status, { "content-type": "application/json" }).end(body),
        (error: unknown) => response.writeHead(400).end((error as Error).message),
      );
    });
  });
  await new Promise<void>((resolve) => admin?.listen(0, "127.0.0.1", resolve));

  project.provide("awsEndpoint", awsEndpoint);
  project.provide("iotDataEndpoint", dataPlane.endpoint);
  project.provide("resetBetweenFiles", !external);
  project.provide("brokerPort", broker.port);
  project.provide("brokerAdminUrl", `http://127.0.0.1:${(admin.address() as AddressInfo).port}`);
  project.provide("brokerAdminToken", token);

  return async () => {
    await new Promise<void>((resolve) => admin?.close(() => resolve()));
    await dataPlane?.close();
    await broker?.close();
    await moto?.stop();
  };
}
