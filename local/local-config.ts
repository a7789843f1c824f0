import { resolve } from "node:path";
import * as z from "zod";

/** Git-ignored folder for `npm start`'s state: keys, certificates, `local.json` (TETHER_STATE_DIR overrides). */
export const STATE_DIR = resolve(
  process.env.TETHER_STATE_DIR ?? resolve(import.meta.dirname, "..", ".tether"),
);
export const LOCAL_CONFIG_PATH = resolve(STATE_DIR, "local.json");

/** `.tether/local.json`: how to reach the instance `npm start` runs (read by the CLI, the SDK demo, scripts). */
export const localConfigSchema = z.object({
  pairingUrl: z.string().url(),
  appengineUrl: z.string().url(),
  realm: z.string(),
  realmPrivateKeyPath: z.string(),
  brokerUrl: z.string(),
  brokerCaPath: z.string(),
  caCertPath: z.string(),
  awsEndpoint: z.string().url(),
});
export type LocalConfig = z.infer<typeof localConfigSchema>;
