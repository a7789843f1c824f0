// `npm run sweep`: one sweep of the local instance `npm start` runs (expired, superseded-past-grace and revoked
// certificates leave IoT; abandoned issuances are cleaned up). Prints what it did.
import { readFile } from "node:fs/promises";
import { CliError, EXIT } from "../cli/errors.ts";
import { createAwsClients } from "../functions/adapters/aws-clients.ts";
import { loadConfig } from "../functions/adapters/config.ts";
import { createPairingDeps } from "../functions/adapters/container.ts";
import { SWEEP_SHARDS } from "../functions/adapters/table-schema.ts";
import { SWEEP_BATCH_LIMIT, type SweepReport, sweep } from "../functions/core/use-cases/sweep.ts";
import { ensureLocalAws } from "./bootstrap.ts";
import { LOCAL_CONFIG_PATH, localConfigSchema } from "./local-config.ts";
import { localFunctionEnv } from "./tether-env.ts";

/** One sweep of the running local instance; its table, CA and policy are found by the idempotent bootstrap. */
export async function runLocalSweep(): Promise<SweepReport> {
  let raw: string;
  try {
    raw = await readFile(LOCAL_CONFIG_PATH, "utf8");
  } catch {
    throw new CliError(`No ${LOCAL_CONFIG_PATH}: start Tether first (npm start).`, EXIT.config);
  }
  const config = localConfigSchema.parse(JSON.parse(raw));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: config.awsEndpoint,
    AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
  });
  const clients = createAwsClients();
  const env = await ensureLocalAws(clients);
  Object.assign(process.env, localFunctionEnv(env, config.brokerUrl));
  return sweep(createPairingDeps(loadConfig(), clients), {
    shards: SWEEP_SHARDS,
    batchLimit: SWEEP_BATCH_LIMIT,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(JSON.stringify(await runLocalSweep(), null, 2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  }
}
