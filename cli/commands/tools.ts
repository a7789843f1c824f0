import { generateKeyPairSync } from "node:crypto";
import { chmod, writeFile } from "node:fs/promises";
import { type Command, durationOption, str } from "../args.ts";
import { compareCaModes } from "../cost.ts";
import { CliError, EXIT, usageError } from "../errors.ts";
import { mintJwt } from "../http.ts";
import { costJson, costReport } from "../output.ts";

/** Keys, tokens, cost and the local sweep. */
export const TOOL_COMMANDS: Record<string, Command> = {
  "keys gen": {
    local: true,
    summary: "make an EC P-256 key pair for a realm (private key 0600)",
    usage: "tether keys gen [--out PREFIX]   (writes PREFIX.key.pem and PREFIX.pub.pem; default ./realm)",
    options: { out: { type: "string" } },
    async run(args) {
      const prefix = str(args, "out") ?? "realm";
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      await writeFile(`${prefix}.key.pem`, privateKey.export({ format: "pem", type: "pkcs8" }), {
        mode: 0o600,
      });
      await chmod(`${prefix}.key.pem`, 0o600);
      await writeFile(`${prefix}.pub.pem`, publicKey.export({ format: "pem", type: "spki" }));
      args.out(`wrote ${prefix}.key.pem (private, 0600) and ${prefix}.pub.pem`, {
        private_key: `${prefix}.key.pem`,
        public_key: `${prefix}.pub.pem`,
      });
    },
  },
  "jwt gen": {
    summary: "mint a realm JWT (a_pa for Pairing's agent API, a_aea for AppEngine), like astartectl",
    usage: "tether jwt gen [--claims pairing|appengine|all] [--ttl 1h]",
    options: { claims: { type: "string" }, ttl: { type: "string" } },
    async run(args) {
      const claims = str(args, "claims") ?? "all";
      if (claims !== "pairing" && claims !== "appengine" && claims !== "all") {
        throw usageError("--claims must be pairing, appengine or all");
      }
      const target = args.target();
      if (!target.realmKeyPath) throw new CliError("no realm key: pass --realm-key", EXIT.config);
      const token = await mintJwt(target.realmKeyPath, claims, durationOption(args, "ttl") ?? 3600);
      args.out(token, { token });
    },
  },
  cost: {
    local: true,
    summary: "estimate Tether's monthly AWS cost for a fleet",
    usage:
      "tether cost --devices N [--validity 7d] [--messages-per-minute 1] [--ca-mode short-lived|general-purpose]\n" +
      "  Prices both Private CA modes and names the cheaper; --ca-mode itemizes that one (default: short-lived).",
    options: {
      devices: { type: "string" },
      validity: { type: "string" },
      "messages-per-minute": { type: "string" },
      "ca-mode": { type: "string" },
    },
    async run(args) {
      const devices = Number(str(args, "devices"));
      if (!Number.isFinite(devices) || devices <= 0)
        throw usageError("--devices N is required (a positive number)");
      const validitySeconds = durationOption(args, "validity") ?? 7 * 86_400;
      if (validitySeconds > 7 * 86_400)
        throw usageError("--validity: short-lived certificates last at most 7d");
      const caMode = str(args, "ca-mode") ?? "short-lived";
      if (caMode !== "short-lived" && caMode !== "general-purpose") {
        throw usageError("--ca-mode must be short-lived or general-purpose");
      }
      const compared = compareCaModes({
        devices,
        validitySeconds,
        messagesPerMinute: Number(str(args, "messages-per-minute") ?? 1),
      });
      args.out(costReport(devices, validitySeconds, caMode, compared), costJson(caMode, compared));
    },
  },
  sweep: {
    summary: "run one certificate sweep on the local instance (on AWS it runs every minute)",
    usage: "tether sweep",
    async run(args) {
      const { runLocalSweep, LocalNotRunningError } = await import("../../local/sweep.ts");
      const report = await runLocalSweep().catch((error: unknown) => {
        throw error instanceof LocalNotRunningError ? new CliError(error.message, EXIT.config) : error;
      });
      args.out(JSON.stringify(report.outcomes), report);
    },
  },
};
