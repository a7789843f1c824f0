import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { createAwsClients } from "../../functions/adapters/aws-clients.ts";
import { bootstrapLocal } from "../../local/bootstrap.ts";
import { type Broker, type BrokerTls, startBroker } from "../../local/broker.ts";
import { type MotoServer, startMoto } from "../../local/moto.ts";
import { freePort } from "../../local/ports.ts";
import { LOCAL_AWS_ENV } from "./local-aws-env.ts";

declare module "vitest" {
  export interface ProvidedContext {
    awsEndpoint: string;
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
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let moto: MotoServer | undefined;
  let broker: Broker | undefined;
  let admin: Server | undefined;
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
  broker = await startBroker({
    port: await freePort(),
    tls: { caPem: env.caCertPem, ...env.broker },
    iot: clients.iot,
    policyName: env.policyName,
    recheckIntervalMs: 200,
  });

  const token = randomBytes(24).toString("hex");
  const activeBroker = broker;
  admin = createServer((request, response) => {
    if (
      request.method !== "PUT" ||
      request.url !== "/tls" ||
      request.headers.authorization !== `Bearer ${token}`
    ) {
      response.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      try {
        activeBroker.setTls(JSON.parse(Buffer.concat(chunks).toString()) as BrokerTls);
        response.writeHead(204).end();
      } catch (error) {
        response.writeHead(400).end((error as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => admin?.listen(0, "127.0.0.1", resolve));

  project.provide("awsEndpoint", awsEndpoint);
  project.provide("resetBetweenFiles", !external);
  project.provide("brokerPort", broker.port);
  project.provide("brokerAdminUrl", `http://127.0.0.1:${(admin.address() as AddressInfo).port}/tls`);
  project.provide("brokerAdminToken", token);

  return async () => {
    await new Promise<void>((resolve) => admin?.close(() => resolve()));
    await broker?.close();
    await moto?.stop();
  };
}
