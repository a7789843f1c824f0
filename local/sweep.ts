// `npm run sweep`: one sweep of the local instance `npm start` runs (expired, superseded-past-grace and revoked
// certificates leave IoT; abandoned issuances are cleaned up). Prints what it did.
import { readFile } from "node:fs/promises";
import { createAwsClients } from "../functions/adapters/aws-clients.ts";
import { SWEEP_SHARDS } from "../functions/adapters/table-schema.ts";
import { boundedRun, type SweepReport, sweep } from "../functions/core/use-cases/sweep.ts";
import { ensureLocalAws } from "./bootstrap.ts";
import { LOCAL_CONFIG_PATH, localConfigSchema } from "./local-config.ts";
import { localAwsTarget, localFunctionEnv, localPairingDeps } from "./tether-env.ts";

/** No local instance to sweep: `npm start` has not run here (its `.tether/local.json` is missing). */
export class LocalNotRunningError extends Error {
  constructor() {
    super(`No ${LOCAL_CONFIG_PATH}: start Tether first (npm start).`);
    this.name = "LocalNotRunningError";
  }
}

/** One sweep of the running local instance; its table, CA and policy are found by the idempotent bootstrap. */
export async function runLocalSweep(): Promise<SweepReport> {
  let raw: string;
  try {
    raw = await readFile(LOCAL_CONFIG_PATH, "utf8");
  } catch {
    throw new LocalNotRunningError();
  }
  const config = localConfigSchema.parse(JSON.parse(raw));
  const clients = createAwsClients(localAwsTarget(config.awsEndpoint));
  const env = await ensureLocalAws(clients);
  // The emulated AWS has no quotas to share: one run drains everything due.
  return sweep(
    localPairingDeps(localFunctionEnv(env, config.brokerUrl), clients),
    boundedRun(SWEEP_SHARDS, Number.POSITIVE_INFINITY),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(JSON.stringify(await runLocalSweep(), null, 2));
  } catch (error) {
    console.error((error as Error).message);
    // 2: the configuration exit code the CLI uses for the same refusal.
    process.exit(error instanceof LocalNotRunningError ? 2 : 1);
  }
}
