import { parseArgs } from "node:util";
import { canonicalDeviceId } from "../functions/contracts/ids.ts";
import type { Command } from "./args.ts";
import { DEVICE_COMMANDS } from "./commands/device.ts";
import { REALM_COMMANDS } from "./commands/realm.ts";
import { TOOL_COMMANDS } from "./commands/tools.ts";
import { CliError, EXIT } from "./errors.ts";
import { resolveTarget } from "./target.ts";

const TARGET_OPTIONS = `Target (default: the local instance \`npm start\` runs, from .tether/local.json):
  --pairing-url URL       Pairing API base URL (TETHER_PAIRING_URL)
  --appengine-url URL     AppEngine API base URL (TETHER_APPENGINE_URL)
  --housekeeping-url URL  Housekeeping API base URL (TETHER_HOUSEKEEPING_URL; SigV4-signed unless an admin token is set)
  --realm NAME            realm (TETHER_REALM)
  --realm-key FILE        realm private key (PKCS#8 PEM) for agent JWTs (TETHER_REALM_KEY)
  --admin-token TOKEN     housekeeping token of a local instance (TETHER_ADMIN_TOKEN)
  --json                  machine-readable output`;

/** Every command, by its words. */
const COMMANDS: Record<string, Command> = { ...REALM_COMMANDS, ...TOOL_COMMANDS, ...DEVICE_COMMANDS };

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

/** Runs one `tether …` command line and returns its exit code (nothing runs at import: `bin/tether.mjs` calls this). */
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
      outLine: (human, data) => console.log(wantsJson ? JSON.stringify(data) : human),
      json: wantsJson,
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
