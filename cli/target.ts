import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { LOCAL_CONFIG_PATH, localConfigSchema } from "../local/local-config.ts";
import { CliError, EXIT } from "./errors.ts";

/** Where the CLI sends requests, and with what credentials. */
export interface Target {
  readonly pairingUrl: string;
  readonly appengineUrl: string;
  readonly housekeepingUrl: string;
  readonly realm: string | undefined;
  /** PEM of the realm's private key, for minting agent JWTs. */
  readonly realmKeyPath: string | undefined;
  /** Housekeeping bearer token (the local instance); without it, housekeeping calls are SigV4-signed. */
  readonly adminToken: string | undefined;
  readonly awsEndpoint: string | undefined;
}

export interface TargetFlags {
  readonly "pairing-url"?: string | undefined;
  readonly "appengine-url"?: string | undefined;
  readonly "housekeeping-url"?: string | undefined;
  readonly realm?: string | undefined;
  readonly "realm-key"?: string | undefined;
  readonly "admin-token"?: string | undefined;
}

/**
 * Flags first, then TETHER_* environment variables, then `.tether/local.json` (the instance `npm start` runs).
 * With none of them, the CLI says how to point it somewhere.
 */
export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Target {
  const local = readLocal();
  const pairingUrl = flags["pairing-url"] ?? env.TETHER_PAIRING_URL ?? local?.pairingUrl;
  if (!pairingUrl) {
    throw new CliError(
      "No Tether to talk to: run `npm start` (local), or pass --pairing-url / set TETHER_PAIRING_URL.",
      EXIT.config,
    );
  }
  const base = pairingUrl.replace(/\/pairing\/?$/, "");
  const adminTokenFile = local ? join(dirname(LOCAL_CONFIG_PATH), "admin-token") : undefined;
  return {
    pairingUrl: pairingUrl.replace(/\/$/, ""),
    appengineUrl: (
      flags["appengine-url"] ??
      env.TETHER_APPENGINE_URL ??
      local?.appengineUrl ??
      `${base}/appengine`
    ).replace(/\/$/, ""),
    housekeepingUrl: (
      flags["housekeeping-url"] ??
      env.TETHER_HOUSEKEEPING_URL ??
      `${base}/housekeeping`
    ).replace(/\/$/, ""),
    realm: flags.realm ?? env.TETHER_REALM ?? local?.realm,
    realmKeyPath: flags["realm-key"] ?? env.TETHER_REALM_KEY ?? local?.realmPrivateKeyPath,
    adminToken: flags["admin-token"] ?? env.TETHER_ADMIN_TOKEN ?? readOptional(adminTokenFile),
    awsEndpoint: local?.awsEndpoint,
  };
}

function readLocal() {
  const raw = readOptional(LOCAL_CONFIG_PATH);
  if (!raw) return undefined;
  const parsed = localConfigSchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : undefined;
}

function readOptional(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}
