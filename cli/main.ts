import { generateKeyPairSync } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { canonicalDeviceId, deviceIdFromString, randomDeviceId } from "../functions/contracts/ids.ts";
import { alreadyDone, openSecretsFile, readDeviceIds, registerAll } from "./bulk.ts";
import { estimateCost, parseDuration } from "./cost.ts";
import { CliError, EXIT, usageError } from "./errors.ts";
import { call, mintJwt } from "./http.ts";
import { resolveTarget, type Target } from "./target.ts";

const TARGET_OPTIONS = `Target (default: the local instance \`npm start\` runs, from .tether/local.json):
  --pairing-url URL       Pairing API base URL (TETHER_PAIRING_URL)
  --appengine-url URL     AppEngine API base URL (TETHER_APPENGINE_URL)
  --housekeeping-url URL  Housekeeping API base URL (TETHER_HOUSEKEEPING_URL; SigV4-signed unless an admin token is set)
  --realm NAME            realm (TETHER_REALM)
  --realm-key FILE        realm private key (PKCS#8 PEM) for agent JWTs (TETHER_REALM_KEY)
  --admin-token TOKEN     housekeeping token of a local instance (TETHER_ADMIN_TOKEN)
  --json                  machine-readable output`;

interface Command {
  readonly summary: string;
  readonly usage: string;
  /** Runs on this machine alone: no Tether instance, so the connection options do not apply. */
  readonly local?: true;
  readonly options?: Record<string, { type: "string" | "boolean" }>;
  run(args: Args): Promise<unknown>;
}

interface Args {
  readonly positionals: string[];
  readonly values: Record<string, string | boolean | undefined>;
  target(): Target;
  out(human: string, data: unknown): void;
}

const str = (args: Args, name: string) => {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
};

function need(args: Args, index: number, what: string): string {
  const value = args.positionals[index];
  if (!value) throw usageError(`missing ${what}`);
  return value;
}

function realmOf(target: Target): string {
  if (!target.realm) throw new CliError("no realm: pass --realm or set TETHER_REALM", EXIT.config);
  return target.realm;
}

function deviceArg(args: Args, index: number): string {
  const text = need(args, index, "DEVICE_ID");
  if (!canonicalDeviceId(text))
    throw usageError(`${text} is not a device id (22 characters of URL-safe base64)`);
  return text;
}

const durationOption = (args: Args, name: string): number | undefined => {
  const text = str(args, name);
  if (text === undefined) return undefined;
  const seconds = parseDuration(text);
  if (seconds === undefined) throw usageError(`--${name} ${text}: use e.g. 7d, 36h, 90m or seconds`);
  return seconds;
};

const COMMANDS: Record<string, Command> = {
  "realm create": {
    summary: "create a realm with the public key its agent JWTs are signed with",
    usage:
      "tether realm create NAME --public-key FILE [--validity 7d] [--grace 1h] [--device-limit N] [--broker-url URL]\n" +
      "                         [--issuance-budget N (per device and hour)] [--max-live-certificates N]",
    options: {
      "public-key": { type: "string" },
      validity: { type: "string" },
      grace: { type: "string" },
      "device-limit": { type: "string" },
      "issuance-budget": { type: "string" },
      "max-live-certificates": { type: "string" },
      "broker-url": { type: "string" },
    },
    async run(args) {
      const name = need(args, 0, "NAME");
      const keyPath = str(args, "public-key");
      if (!keyPath) throw usageError("--public-key FILE is required (make one with `tether keys gen`)");
      const limit = str(args, "device-limit");
      const validity = durationOption(args, "validity");
      const grace = durationOption(args, "grace");
      const body = {
        data: {
          realm_name: name,
          jwt_public_key_pem: await readFile(keyPath, "utf8"),
          ...(validity === undefined ? {} : { certificate_validity_seconds: validity }),
          ...(grace === undefined ? {} : { grace_seconds: grace }),
          ...(limit === undefined ? {} : { device_limit: Number(limit) }),
          ...(str(args, "issuance-budget")
            ? { issuance_budget_per_hour: Number(str(args, "issuance-budget")) }
            : {}),
          ...(str(args, "max-live-certificates")
            ? { max_live_certificates: Number(str(args, "max-live-certificates")) }
            : {}),
          ...(str(args, "broker-url") ? { broker_url: str(args, "broker-url") } : {}),
        },
      };
      const target = args.target();
      const answer = await call(
        target,
        "POST",
        `${target.housekeepingUrl}/v1/realms`,
        { kind: "housekeeping" },
        body,
      );
      args.out(`realm ${name} created`, answer.body.data);
    },
  },
  "realm show": {
    summary: "show a realm's settings",
    usage: "tether realm show NAME",
    async run(args) {
      const target = args.target();
      const answer = await call(
        target,
        "GET",
        `${target.housekeepingUrl}/v1/realms/${need(args, 0, "NAME")}`,
        {
          kind: "housekeeping",
        },
      );
      const r = answer.body.data;
      args.out(
        `${r.realm_name}: broker ${r.broker_url}, validity ${r.certificate_validity_seconds}s, grace ${r.grace_seconds}s, ` +
          `${r.issuance_budget_per_hour} issuances per device and hour, at most ${r.max_live_certificates} live, ` +
          `${r.device_count} devices${r.device_limit ? ` of at most ${r.device_limit}` : ""}`,
        r,
      );
    },
  },
  "realm list": {
    summary: "list realms",
    usage: "tether realm list",
    async run(args) {
      const target = args.target();
      const answer = await call(target, "GET", `${target.housekeepingUrl}/v1/realms`, {
        kind: "housekeeping",
      });
      args.out((answer.body.data as string[]).join("\n"), answer.body.data);
    },
  },
  "realm rotate-key": {
    summary: "replace a realm's JWT public key (tokens of the old key stop working)",
    usage: "tether realm rotate-key NAME --public-key FILE",
    options: { "public-key": { type: "string" } },
    async run(args) {
      const keyPath = str(args, "public-key");
      if (!keyPath) throw usageError("--public-key FILE is required");
      const target = args.target();
      const answer = await call(
        target,
        "PATCH",
        `${target.housekeepingUrl}/v1/realms/${need(args, 0, "NAME")}`,
        { kind: "housekeeping" },
        { data: { jwt_public_key_pem: await readFile(keyPath, "utf8") } },
      );
      args.out("key rotated", answer.body.data);
    },
  },
  "realm delete": {
    summary:
      "delete a realm: its devices are shut out now, their certificates and records purged within minutes",
    usage: "tether realm delete NAME",
    async run(args) {
      const target = args.target();
      const name = need(args, 0, "NAME");
      await call(target, "DELETE", `${target.housekeepingUrl}/v1/realms/${name}`, { kind: "housekeeping" });
      args.out(
        `realm ${name} deleted: its devices can no longer pair or verify; the sweeper removes their certificates, things and records within minutes, then frees the name`,
        { deleted: name },
      );
    },
  },
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
        privateKey: `${prefix}.key.pem`,
        publicKey: `${prefix}.pub.pem`,
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
  "device register": {
    summary: "register a device and print its credentials secret (shown once)",
    usage: "tether device register DEVICE_ID [--introspection JSON]",
    options: { introspection: { type: "string" } },
    async run(args) {
      const target = args.target();
      const deviceId = deviceArg(args, 0);
      let introspection: unknown;
      const raw = str(args, "introspection");
      if (raw) {
        try {
          introspection = JSON.parse(raw);
        } catch {
          throw usageError(
            '--introspection must be JSON, e.g. \'{"org.example.Meter":{"major":1,"minor":0}}\'',
          );
        }
      }
      const answer = await call(
        target,
        "POST",
        `${target.pairingUrl}/v1/${realmOf(target)}/agent/devices`,
        { kind: "agent", claims: "pairing" },
        { data: { hw_id: deviceId, ...(introspection ? { initial_introspection: introspection } : {}) } },
      );
      args.out(answer.body.data.credentials_secret, {
        deviceId,
        credentialsSecret: answer.body.data.credentials_secret,
      });
    },
  },
  "device unregister": {
    summary: "unregister a device: its certificates leave IoT; it may be registered again",
    usage: "tether device unregister DEVICE_ID",
    async run(args) {
      const target = args.target();
      const deviceId = deviceArg(args, 0);
      await call(target, "DELETE", `${target.pairingUrl}/v1/${realmOf(target)}/agent/devices/${deviceId}`, {
        kind: "agent",
        claims: "pairing",
      });
      args.out(`${deviceId} unregistered`, { deviceId, unregistered: true });
    },
  },
  "device rotate-secret": {
    summary: "give a device a new credentials secret without unregistering it",
    usage: "tether device rotate-secret DEVICE_ID",
    async run(args) {
      const target = args.target();
      const deviceId = deviceArg(args, 0);
      const answer = await call(
        target,
        "POST",
        `${target.pairingUrl}/v1/${realmOf(target)}/agent/devices/${deviceId}/credentials_secret`,
        { kind: "agent", claims: "pairing" },
      );
      args.out(answer.body.data.credentials_secret, {
        deviceId,
        credentialsSecret: answer.body.data.credentials_secret,
      });
    },
  },
  "device show": {
    summary: "show a device's status, current certificate and credential timeline",
    usage: "tether device show DEVICE_ID",
    async run(args) {
      const target = args.target();
      const deviceId = deviceArg(args, 0);
      const base = `${target.appengineUrl}/v1/${realmOf(target)}/devices/${deviceId}`;
      const auth = { kind: "agent", claims: "appengine" } as const;
      const [status, events] = await Promise.all([
        call(target, "GET", base, auth),
        call(target, "GET", `${base}/events`, auth),
      ]);
      const s = status.body.data;
      const lines = [
        `device ${s.id}`,
        `  credentials inhibited  ${s.credentials_inhibited}`,
        `  first registration     ${s.first_registration ?? "-"}`,
        `  first credentials      ${s.first_credentials_request ?? "-"}`,
        `  last request from      ${s.last_credentials_request_ip ?? "-"}`,
        `  certificate            ${s.certificate ? `${s.certificate.serial} (${s.certificate.state}, until ${s.certificate.not_after})` : "-"}`,
        "  timeline",
        ...(events.body.data as { at: string; type: string; serial?: string; reason?: string }[]).map(
          (e) => `    ${e.at}  ${e.type}${e.serial ? ` ${e.serial}` : ""}${e.reason ? ` (${e.reason})` : ""}`,
        ),
      ];
      args.out(lines.join("\n"), { ...s, events: events.body.data });
    },
  },
  "device list": {
    summary: "list the realm's devices",
    usage: "tether device list [--limit N]",
    options: { limit: { type: "string" } },
    async run(args) {
      const target = args.target();
      const max = Number(str(args, "limit") ?? Number.POSITIVE_INFINITY);
      const devices: {
        id: string;
        credentials_inhibited: boolean;
        certificate: { not_after: string } | null;
      }[] = [];
      let from: string | undefined;
      do {
        const page = await call(
          target,
          "GET",
          `${target.appengineUrl}/v1/${realmOf(target)}/devices?details=true&limit=100${from ? `&from_token=${from}` : ""}`,
          { kind: "agent", claims: "appengine" },
        );
        devices.push(...page.body.data);
        // Astarte's links.next is the next page's path; its from_token is where that page starts.
        const next: string | undefined = page.body.links?.next;
        from = next ? (new URLSearchParams(next.split("?")[1]).get("from_token") ?? undefined) : undefined;
      } while (from && devices.length < max);
      const shown = devices.slice(0, max);
      args.out(
        shown
          .map(
            (d) =>
              `${d.id}  ${d.credentials_inhibited ? "inhibited" : "enabled  "}  ${d.certificate?.not_after ?? "no certificate"}`,
          )
          .join("\n"),
        shown,
      );
    },
  },
  "device inhibit": {
    summary: "stop a device from getting new certificates (--revoke: also cut it off now)",
    usage: "tether device inhibit DEVICE_ID [--revoke]",
    options: { revoke: { type: "boolean" } },
    run: (args) => setInhibited(args, true, args.values.revoke === true),
  },
  "device uninhibit": {
    summary: "let an inhibited device get certificates again",
    usage: "tether device uninhibit DEVICE_ID",
    run: (args) => setInhibited(args, false, false),
  },
  "device-id from-string": {
    local: true,
    summary: "derive a device id from a namespace UUID and hardware data (UUIDv5, like Astarte SDKs)",
    usage: "tether device-id from-string NAMESPACE_UUID DATA",
    async run(args) {
      let id: string;
      try {
        id = deviceIdFromString(need(args, 0, "NAMESPACE_UUID"), need(args, 1, "DATA"));
      } catch (error) {
        throw usageError((error as Error).message);
      }
      args.out(id, { deviceId: id });
    },
  },
  "device-id random": {
    local: true,
    summary: "a random device id (UUIDv4)",
    usage: "tether device-id random",
    async run(args) {
      const id = randomDeviceId();
      args.out(id, { deviceId: id });
    },
  },
  "register-bulk": {
    summary: "register many devices from CSV or JSON; idempotent and resumable",
    usage:
      "tether register-bulk FILE [--out secrets.csv] [--concurrency 4]\n" +
      "  FILE: CSV with a hw_id column (or one id per line), or a JSON array of ids or {hw_id} objects.\n" +
      "  Secrets are appended to --out (0600); ids already in it are skipped, so an interrupted run resumes.",
    options: { out: { type: "string" }, concurrency: { type: "string" } },
    async run(args) {
      const target = args.target();
      const realm = realmOf(target);
      const ids = await readDeviceIds(need(args, 0, "FILE"));
      const outPath = str(args, "out") ?? "secrets.csv";
      const done = await alreadyDone(outPath);
      const record = await openSecretsFile(outPath);
      const json = args.values.json === true;
      const summary = await registerAll(
        ids,
        done,
        async (deviceId) =>
          (
            await call(
              target,
              "POST",
              `${target.pairingUrl}/v1/${realm}/agent/devices`,
              { kind: "agent", claims: "pairing" },
              { data: { hw_id: deviceId } },
            )
          ).body.data.credentials_secret as string,
        record,
        {
          concurrency: Number(str(args, "concurrency") ?? 4),
          onProgress: (finished, total) => {
            if (!json && process.stderr.isTTY) {
              const width = 30;
              const filled = Math.round((finished / total) * width);
              process.stderr.write(
                `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${finished}/${total}`,
              );
            }
          },
        },
      );
      if (!json && process.stderr.isTTY) process.stderr.write("\n");
      args.out(
        `created ${summary.created}, skipped ${summary.skipped}, failed ${summary.failed}; secrets in ${outPath}` +
          summary.failures.map((f) => `\n  ${f.hwId}: ${f.error}`).join(""),
        bulkJson(summary, outPath),
      );
      if (summary.failed > 0) {
        throw new CliError(`${summary.failed} devices failed`, EXIT.partial, bulkJson(summary, outPath));
      }
    },
  },
  cost: {
    local: true,
    summary: "estimate Tether's monthly AWS cost for a fleet",
    usage: "tether cost --devices N [--validity 7d] [--messages-per-minute 1]",
    options: {
      devices: { type: "string" },
      validity: { type: "string" },
      "messages-per-minute": { type: "string" },
    },
    async run(args) {
      const devices = Number(str(args, "devices"));
      if (!Number.isFinite(devices) || devices <= 0)
        throw usageError("--devices N is required (a positive number)");
      const validitySeconds = durationOption(args, "validity") ?? 7 * 86_400;
      if (validitySeconds > 7 * 86_400)
        throw usageError("--validity: short-lived certificates last at most 7d");
      const estimate = estimateCost({
        devices,
        validitySeconds,
        messagesPerMinute: Number(str(args, "messages-per-minute") ?? 1),
      });
      const usd = (n: number) =>
        `$${n.toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 })}`;
      args.out(
        [
          `${devices} devices, ${validitySeconds / 86_400} d certificates (~${estimate.certificatesPerDevice.toFixed(1)} per device per month):`,
          ...estimate.lines.map((l) => `  ${l.item.padEnd(42)} ${usd(l.monthlyUsd).padStart(14)}`),
          `  ${"total per month".padEnd(42)} ${usd(estimate.totalUsd).padStart(14)}`,
        ].join("\n"),
        estimate,
      );
    },
  },
  sweep: {
    summary: "run one certificate sweep on the local instance (on AWS it runs every 5 minutes)",
    usage: "tether sweep",
    async run(args) {
      const { runLocalSweep } = await import("../local/sweep.ts");
      const report = await runLocalSweep();
      args.out(JSON.stringify(report.outcomes), report);
    },
  },
};

async function setInhibited(args: Args, inhibited: boolean, revoke: boolean): Promise<void> {
  const target = args.target();
  const deviceId = deviceArg(args, 0);
  const answer = await call(
    target,
    "PATCH",
    `${target.appengineUrl}/v1/${realmOf(target)}/devices/${deviceId}`,
    { kind: "agent", claims: "appengine" },
    { data: { credentials_inhibited: inhibited, ...(revoke ? { revoke_credentials: true } : {}) } },
  );
  args.out(
    `${deviceId} ${inhibited ? `inhibited${revoke ? ", certificates revoked" : ""}` : "enabled"}`,
    answer.body.data,
  );
}

/** The commands of one group (`tether device`), or undefined when `word` names no group. */
function groupHelp(word: string): string | undefined {
  const members = Object.entries(COMMANDS).filter(([name]) => name.startsWith(`${word} `));
  if (members.length === 0) return undefined;
  const width = Math.max(...members.map(([name]) => name.length));
  return [
    `Usage: tether ${word} <command> [arguments] [options]      tether ${word} <command> --help`,
    "",
    "Commands:",
    ...members.map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    TARGET_OPTIONS,
  ].join("\n");
}

/** What `register-bulk --json` prints: snake_case, like every other JSON the CLI and the API print. */
function bulkJson(
  summary: { created: number; skipped: number; failed: number; failures: { hwId: string; error: string }[] },
  secretsFile: string,
) {
  return {
    created: summary.created,
    skipped: summary.skipped,
    failed: summary.failed,
    failures: summary.failures.map((f) => ({ hw_id: f.hwId, error: f.error })),
    secrets_file: secretsFile,
  };
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    "tether: operate a Tether fleet (realms, devices, credentials).",
    "",
    "Usage: tether <command> [arguments] [options]      tether <command> --help",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    TARGET_OPTIONS,
    "",
    "Exit codes: 0 ok, 1 usage, 2 configuration, 3 refused by the API (4xx), 4 API or network failure, 5 partial bulk failure.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const wantsJson = argv.includes("--json");
  const words = argv.filter((a) => !a.startsWith("-"));
  const name = [`${words[0]} ${words[1]}`, words[0]].find((n) => n && COMMANDS[n]);
  const group = words[0] ? groupHelp(words[0]) : undefined;
  if (!name && group) {
    // `tether device` or `tether device --help`: the device commands, not the whole list.
    const asked = argv.includes("--help") || argv.includes("-h");
    (asked ? console.log : console.error)(group);
    return asked ? EXIT.ok : EXIT.usage;
  }
  if (!name) {
    const asked = argv.length === 0 || argv.includes("--help") || argv.includes("-h") || argv[0] === "help";
    (asked ? console.log : console.error)(asked ? help() : `unknown command: ${argv.join(" ")}\n\n${help()}`);
    return asked ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS[name] as Command;
  const rest = argv.slice(argv.indexOf(words[name.split(" ").length - 1] ?? "") + 1);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(
      `${command.summary}\n\nUsage: ${command.usage}${command.local ? "" : `\n\n${TARGET_OPTIONS}`}`,
    );
    return EXIT.ok;
  }
  try {
    // A device id may start with "-" or "--" (base64url, 1 id in 64 and 1 in 4,096): parseArgs would read it as
    // options. Such ids stand in as placeholders while parsing (order kept) and are put back after. No option
    // name is a 22-character id, so nothing else is taken for one.
    const dashIds = rest.filter((a) => a.startsWith("-") && canonicalDeviceId(a) !== undefined);
    const placeholder = (i: number) => `\u0000device-id:${i}`;
    const restore = (v: string) =>
      v.startsWith("\u0000device-id:") ? (dashIds[Number(v.slice(11))] ?? v) : v;
    const parsed = parseArgs({
      args: rest.map((a) => (dashIds.includes(a) ? placeholder(dashIds.indexOf(a)) : a)),
      allowPositionals: true,
      options: {
        ...command.options,
        json: { type: "boolean" },
        "pairing-url": { type: "string" },
        "appengine-url": { type: "string" },
        "housekeeping-url": { type: "string" },
        realm: { type: "string" },
        "realm-key": { type: "string" },
        "admin-token": { type: "string" },
      },
    });
    const values = Object.fromEntries(
      Object.entries(parsed.values).map(([k, v]) => [k, typeof v === "string" ? restore(v) : v]),
    ) as Record<string, string | boolean | undefined>;
    await command.run({
      positionals: parsed.positionals.map(restore),
      values,
      target: () => resolveTarget(values as Parameters<typeof resolveTarget>[0]),
      out: (human, data) => console.log(wantsJson ? JSON.stringify(data, null, 2) : human),
    });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CliError) {
      if (wantsJson) console.error(JSON.stringify({ error: error.message, details: error.details }));
      else console.error(`tether ${name}: ${error.message}`);
      return error.exitCode;
    }
    if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`tether ${name}: ${(error as Error).message}\nUsage: ${command.usage}`);
      return EXIT.usage;
    }
    console.error(`tether ${name}: ${(error as Error).message}`);
    return EXIT.unavailable;
  }
}

process.exitCode = await main(process.argv.slice(2));
