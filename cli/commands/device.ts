import { deviceIdFromString, randomDeviceId } from "../../functions/contracts/ids.ts";
import type { DeviceStatusResponse } from "../../functions/contracts/pairing.ts";
import { type Args, type Command, deviceArg, durationOption, need, realmOf, str } from "../args.ts";
import { alreadyDone, openSecretsFile, readDeviceIds, registerAll } from "../bulk.ts";
import { CliError, EXIT, usageError } from "../errors.ts";
import { call } from "../http.ts";
import {
  bulkJson,
  deviceReport,
  deviceTable,
  progressBar,
  type WatchedState,
  watchChanges,
} from "../output.ts";

/** `tether device …`, `tether device-id …` and `tether register-bulk`: the agent and AppEngine APIs. */
export const DEVICE_COMMANDS: Record<string, Command> = {
  "device register": {
    summary: "register a device and print its credentials secret (shown once)",
    usage: "tether device register DEVICE_ID [--introspection JSON]",
    options: { introspection: { type: "string" } },
    async run(args) {
      const target = args.target();
      const deviceId = deviceArg(args, 0);
      let introspection: Record<string, { major: number; minor: number }> | undefined;
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
      const answer = await call(target, "registerDevice", {
        params: { realm: realmOf(target) },
        body: {
          data: { hw_id: deviceId, ...(introspection ? { initial_introspection: introspection } : {}) },
        },
      });
      const secret = answer.body.data.credentials_secret;
      args.out(secret, { device_id: deviceId, credentials_secret: secret });
    },
  },
  "device unregister": {
    summary: "unregister a device: its certificates leave IoT; it may be registered again",
    usage: "tether device unregister DEVICE_ID",
    async run(args) {
      const target = args.target();
      const deviceId = deviceArg(args, 0);
      await call(target, "unregisterDevice", { params: { realm: realmOf(target), device_id: deviceId } });
      args.out(`${deviceId} unregistered`, { device_id: deviceId, unregistered: true });
    },
  },
  "device rotate-secret": {
    summary: "give a device a new credentials secret without unregistering it",
    usage: "tether device rotate-secret DEVICE_ID",
    async run(args) {
      const target = args.target();
      const deviceId = deviceArg(args, 0);
      const answer = await call(target, "rotateSecret", {
        params: { realm: realmOf(target), device_id: deviceId },
      });
      const secret = answer.body.data.credentials_secret;
      args.out(secret, { device_id: deviceId, credentials_secret: secret });
    },
  },
  "device show": {
    summary: "show a device's status, presence, metadata, current certificate and credential timeline",
    usage: "tether device show DEVICE_ID",
    async run(args) {
      const target = args.target();
      const params = { realm: realmOf(target), device_id: deviceArg(args, 0) };
      const [status, events] = await Promise.all([
        call(target, "deviceStatus", { params }),
        call(target, "deviceEvents", { params }),
      ]);
      args.out(deviceReport(status.body.data, events.body.data), {
        ...status.body.data,
        events: events.body.data,
      });
    },
  },
  "device list": {
    summary: "list the realm's devices with their credentials, presence, certificate and metadata",
    usage:
      "tether device list [--limit N] [--status pending|confirmed|inhibited] [--connected true|false]\n" +
      "                   [--id-prefix ID] [--expiring-before TIME] [--metadata KEY=VALUE]\n" +
      "                   [--sort device_id|last_seen|expiry]\n" +
      "  Served: --sort device_id (the default) with --status and --id-prefix; --sort last_seen with --status and\n" +
      "  --connected; --sort expiry (the default with --expiring-before, an ISO 8601 time) with --status and\n" +
      "  --expiring-before; --metadata (a key the realm indexes, see indexed_metadata_keys) with --status.\n" +
      "  The API refuses any other combination and says which are served.",
    options: {
      limit: { type: "string" },
      status: { type: "string" },
      connected: { type: "string" },
      "id-prefix": { type: "string" },
      "expiring-before": { type: "string" },
      metadata: { type: "string" },
      sort: { type: "string" },
    },
    async run(args) {
      const target = args.target();
      const realm = realmOf(target);
      const max = Number(str(args, "limit") ?? Number.POSITIVE_INFINITY);
      // Tether's search (the API validates each value and the combination).
      const search = {
        status: str(args, "status"),
        connected: str(args, "connected"),
        id_prefix: str(args, "id-prefix"),
        expiring_before: str(args, "expiring-before"),
        ...metadataArgument(str(args, "metadata")),
        sort: str(args, "sort"),
      };
      const devices: DeviceStatusResponse["data"][] = [];
      let from: string | undefined;
      do {
        const page = await call(target, "listDevices", {
          params: { realm },
          query: {
            details: "true",
            limit: String(Math.min(100, max - devices.length)),
            from_token: from,
            ...search,
          },
        });
        devices.push(...(page.body.data as DeviceStatusResponse["data"][]));
        // Astarte's links.next is the next page's path; its from_token is where that page starts.
        const next = page.body.links.next;
        from = next ? (new URLSearchParams(next.split("?")[1]).get("from_token") ?? undefined) : undefined;
      } while (from && devices.length < max);
      const shown = devices.slice(0, max);
      args.out(deviceTable(shown), shown);
    },
  },
  "device watch": {
    summary: "follow a device's presence, credentials and timeline live (polling; Ctrl-C stops)",
    usage:
      "tether device watch DEVICE_ID [--interval 2s] [--polls N]\n" +
      "  Prints the state, then each change as it is seen; --json prints one JSON object a line.",
    options: { interval: { type: "string" }, polls: { type: "string" } },
    async run(args) {
      const target = args.target();
      const params = { realm: realmOf(target), device_id: deviceArg(args, 0) };
      const intervalMs = (durationOption(args, "interval") ?? 2) * 1000;
      const polls = str(args, "polls") === undefined ? Number.POSITIVE_INFINITY : Number(str(args, "polls"));
      if (!(polls > 0)) throw usageError("--polls must be a positive number");
      let before: WatchedState | undefined;
      let delayMs = intervalMs;
      for (let poll = 1; poll <= polls; poll++) {
        if (poll > 1) await new Promise((r) => setTimeout(r, delayMs));
        let state: WatchedState;
        try {
          const [status, events] = await Promise.all([
            call(target, "deviceStatus", { params }),
            call(target, "deviceEvents", { params }),
          ]);
          state = { status: status.body.data, events: events.body.data };
          delayMs = intervalMs;
        } catch (error) {
          // A refusal (the device is gone, the token refused) ends the watch; an outage is waited out.
          if (!(error instanceof CliError) || error.exitCode !== EXIT.unavailable) throw error;
          delayMs = Math.min(delayMs * 2, 60_000);
          process.stderr.write(`tether device watch: ${error.message}; retrying in ${delayMs / 1000}s\n`);
          continue;
        }
        for (const c of watchChanges(before, state, new Date().toISOString())) {
          args.outLine(`${c.at}  ${c.text}`, c);
        }
        before = state;
      }
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
      args.out(id, { device_id: id });
    },
  },
  "device-id random": {
    local: true,
    summary: "a random device id (UUIDv4)",
    usage: "tether device-id random",
    async run(args) {
      const id = randomDeviceId();
      args.out(id, { device_id: id });
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
      const showProgress = !args.json && process.stderr.isTTY;
      const summary = await registerAll(
        ids,
        done,
        async (deviceId) =>
          (await call(target, "registerDevice", { params: { realm }, body: { data: { hw_id: deviceId } } }))
            .body.data.credentials_secret,
        record,
        {
          concurrency: Number(str(args, "concurrency") ?? 4),
          onProgress: (finished, total) => {
            if (showProgress) process.stderr.write(progressBar(finished, total));
          },
        },
      );
      if (showProgress) process.stderr.write("\n");
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
};

async function setInhibited(args: Args, inhibited: boolean, revoke: boolean): Promise<void> {
  const target = args.target();
  const deviceId = deviceArg(args, 0);
  const answer = await call(target, "patchDevice", {
    params: { realm: realmOf(target), device_id: deviceId },
    body: { data: { credentials_inhibited: inhibited, ...(revoke ? { revoke_credentials: true } : {}) } },
  });
  args.out(
    `${deviceId} ${inhibited ? `inhibited${revoke ? ", certificates revoked" : ""}` : "enabled"}`,
    answer.body.data,
  );
}

/** `--metadata model=A300` as the API's metadata_key and metadata_value (the first `=` splits them). */
function metadataArgument(text: string | undefined): { metadata_key?: string; metadata_value?: string } {
  if (text === undefined) return {};
  const at = text.indexOf("=");
  if (at <= 0) throw usageError("--metadata takes KEY=VALUE");
  return { metadata_key: text.slice(0, at), metadata_value: text.slice(at + 1) };
}
