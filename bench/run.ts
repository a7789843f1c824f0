// `npm run bench`: Tether's figures, measured on this machine, printed and written to README's performance
// section. A benchmark, not a test: it reports against the targets, it does not fail on them.
// First: the functions' metrics off (one EMF line per request would be measured too) and quiet logs.
import "../local/function-env-first.ts";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ACMPCAClient,
  GetCertificateCommand,
  RequestInProgressException,
  waitUntilCertificateIssued,
} from "@aws-sdk/client-acm-pca";
import { mockClient } from "aws-sdk-client-mock";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { fetchIssuedCertificate } from "../functions/adapters/pca-polling.ts";
import { issueCredentials } from "../functions/core/use-cases/issue-credentials.ts";
import { verifyCredentials } from "../functions/core/use-cases/verify-credentials.ts";
import { BUNDLE_FILE, bundleHandlers, HANDLERS_DIR, LAMBDA_NODE_OPTIONS } from "../infra/bundling.ts";
import { benchWorld } from "./world.ts";

const REPO = resolve(import.meta.dirname, "..");
const README = join(REPO, "README.md");
const START = "<!-- bench:start -->";
const END = "<!-- bench:end -->";

/** The figures README holds from the last committed run: the baseline each new figure is printed beside. */
async function committedFigures(): Promise<Map<string, string>> {
  const readme = await readFile(README, "utf8");
  const section = readme.slice(readme.indexOf(START), readme.indexOf(END));
  const figures = new Map<string, string>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length > 3 && cells[1] && cells[2] && !/^-+:?$/.test(cells[2]) && cells[1] !== "figure")
      figures.set(cells[1], cells[2]);
  }
  return figures;
}

const baseline = await committedFigures();
const rows: { figure: string; value: string; baseline: string; target: string; ok: boolean | undefined }[] =
  [];
const row = (figure: string, value: string, target = "", ok?: boolean) => {
  const before = baseline.get(figure) ?? "—";
  rows.push({ figure, value, baseline: before, target, ok });
  console.log(
    `  ${figure.padEnd(58)} ${value.padStart(10)}  (baseline ${before.padStart(8)})  ${target}${ok === undefined ? "" : ok ? "  ✓" : "  ✗"}`,
  );
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function bundles(): Promise<void> {
  console.log(
    `Bundles (infra/bundling.ts, what the CDK app deploys: ESM, node22, minified, AWS SDK inside) and cold init (NODE_OPTIONS=${LAMBDA_NODE_OPTIONS}, as on Lambda):`,
  );
  const out = await mkdtemp(join(tmpdir(), "tether-bench-"));
  const handlers = (await readdir(HANDLERS_DIR))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => basename(f, ".ts"))
    .sort();
  try {
    await bundleHandlers(handlers, out);
    for (const handler of handlers) {
      const bundle = join(out, handler, BUNDLE_FILE);
      const size = (await stat(bundle)).size;
      const inits: number[] = [];
      for (let i = 0; i < 5; i++) {
        const script = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(bundle).href)});console.log(performance.now()-t)`;
        inits.push(
          Number(
            execFileSync(
              process.execPath,
              [...LAMBDA_NODE_OPTIONS.split(" "), "--input-type=module", "-e", script],
              {
                encoding: "utf8",
                env: { ...process.env, NODE_OPTIONS: "" },
              },
            ).trim(),
          ),
        );
      }
      const init = median(inits);
      row(`${handler}: bundle`, `${(size / 1024).toFixed(0)} KB`, "≤ 500 KB", size <= 500 * 1024);
      row(`${handler}: cold module init (median of 5)`, `${init.toFixed(0)} ms`, "≤ 125 ms", init <= 125);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function cpuAndSequence(): Promise<void> {
  console.log(
    "\nCPU per request (in-memory adapters, certificates signed beforehand), and sequential AWS round trips:",
  );
  // 200 issuances over 40 devices, 5 each: a device's ledger the size it has in a fleet.
  const devices = 40;
  const perDevice = 5;
  const n = devices * perDevice;
  const world = await benchWorld(devices, perDevice + 1);
  const callOf = (d: number) => ({
    realmName: world.realm,
    deviceIdText: world.devices[d]?.deviceId ?? "",
    secret: world.devices[d]?.secret ?? "",
    protocol: "astarte_mqtt_v1",
  });
  const meta = (i: number) => ({ sourceIp: "203.0.113.7", requestId: `bench-${i}` });
  // A second apart: no device issues twice in one instant (its budget is counted in time).
  const issue = async (d: number, i: number) => {
    world.clock.advance(1000);
    const csr = world.devices[d]?.csrs[i];
    return issueCredentials(world.deps, callOf(d), () => ({ csr: csr ?? "" }), meta(d * 100 + i));
  };
  // Private CA's signing is AWS's work, not Tether's: every certificate is signed before the clock starts, under
  // the idempotency token issueCredentials derives (sha256 of CN and CSR), so the measured requests get it back.
  for (const device of world.devices) {
    const commonName = `${world.realm}/${device.deviceId}`;
    for (const csrPem of device.csrs) {
      const idempotencyKey = createHash("sha256")
        .update(commonName)
        .update(csrPem)
        .digest("hex")
        .slice(0, 36);
      await world.ca.requestCertificate({ csrPem, commonName, validitySeconds: 7 * 86_400, idempotencyKey });
    }
  }
  // Warm up, then measure.
  for (let d = 0; d < devices; d++) await issue(d, perDevice);
  const signedBefore = world.ca.requests;
  let cpu = process.cpuUsage();
  let last: Awaited<ReturnType<typeof issueCredentials>> | undefined;
  for (let i = 0; i < perDevice; i++) for (let d = 0; d < devices; d++) last = await issue(d, i);
  let used = process.cpuUsage(cpu);
  if (world.ca.requests !== signedBefore) throw new Error("the benchmark signed inside the measured loop");
  const credentialsMs = (used.user + used.system) / 1000 / n;
  row("credentials: CPU per request", `${credentialsMs.toFixed(2)} ms`, "≤ 5 ms", credentialsMs <= 5);
  const certificatePem = last?.certificatePem ?? "";
  const lastCall = callOf(devices - 1);
  for (let i = 0; i < 20; i++)
    await verifyCredentials(world.deps, lastCall, () => ({ client_crt: certificatePem }));
  cpu = process.cpuUsage();
  for (let i = 0; i < n; i++)
    await verifyCredentials(world.deps, lastCall, () => ({ client_crt: certificatePem }));
  used = process.cpuUsage(cpu);
  const verifyMs = (used.user + used.system) / 1000 / n;
  row("verify: CPU per request", `${verifyMs.toFixed(2)} ms`, "≤ 2 ms", verifyMs <= 2);

  const latency = 25;
  const fresh = await benchWorld(1, 1);
  fresh.setLatency(latency);
  const device = fresh.devices[0];
  const freshCall = {
    ...callOf(0),
    deviceIdText: device?.deviceId ?? "",
    secret: device?.secret ?? "",
  };
  const started = performance.now();
  await issueCredentials(fresh.deps, freshCall, () => ({ csr: device?.csrs[0] ?? "" }), meta(0));
  const levels = Math.floor((performance.now() - started) / latency);
  row("credentials: sequential AWS round trips", String(levels), "≤ 5", levels <= 5);
}

async function polling(): Promise<void> {
  console.log("\nCertificate in hand after Private CA finishes signing (simulated 300 ms signing):");
  const signMs = 300;
  const measure = async (fetch: (client: ACMPCAClient) => Promise<unknown>) => {
    const client = new ACMPCAClient({
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    const mock = mockClient(client);
    const ready = Date.now() + signMs;
    mock.on(GetCertificateCommand).callsFake(async () => {
      if (Date.now() < ready) throw new RequestInProgressException({ message: "in progress", $metadata: {} });
      return { Certificate: "PEM", CertificateChain: "CHAIN" };
    });
    await fetch(client);
    const late = Date.now() - ready;
    mock.restore();
    return late;
  };
  const ours = await measure((client) => fetchIssuedCertificate(client, "ca", "cert"));
  const waiter = await measure((client) =>
    waitUntilCertificateIssued(
      { client, maxWaitTime: 30 },
      { CertificateAuthorityArn: "ca", CertificateArn: "cert" },
    ),
  );
  row("fast polling (25 ms doubling to 400 ms): after ready", `${ours} ms`, "≤ 300 ms", ours <= 300);
  row("SDK waiter waitUntilCertificateIssued: after ready", `${waiter} ms`, "baseline");
}

async function throughput(): Promise<void> {
  console.log(
    "\nPairings through the local stack (moto + API on loopback; register + key + CSR + certificate): what moto" +
      "\ncosts, not Tether (Tether's own CPU per pairing is the credentials figure above). moto as shipped deep-copies" +
      "\nthe table per transaction item and keeps every copy; the launcher's patches (local/moto/launcher.py) do not:",
  );
  for (const [label, vanilla] of [
    ["moto as shipped", true],
    ["moto with the launcher's patches", false],
  ] as const) {
    const { perSecond, rssMb } = await pairThrough(vanilla, PAIRINGS);
    row(`pairings per second, ${label} (4 at a time, ${PAIRINGS} devices)`, perSecond.toFixed(1), "measured");
    row(`moto memory after ${PAIRINGS} pairings, ${label}`, `${rssMb} MB`, "measured");
  }
  // What `npm start` must hold: a fleet of 2,000 paired devices, on the moto it runs (patched); then what a page
  // of the device search and an overview count read there (DynamoDB's own ScannedCount, summed per request).
  const fleet = await pairThrough(false, FLEET_PAIRINGS, searchCosts);
  row(
    `moto memory after ${FLEET_PAIRINGS.toLocaleString("en-US")} pairings (npm start's fleet), patched`,
    `${fleet.rssMb} MB`,
    "< 1024 MB",
    fleet.rssMb < 1024,
  );
  row(
    `pairings per second at ${FLEET_PAIRINGS.toLocaleString("en-US")} devices, patched`,
    fleet.perSecond.toFixed(1),
    "measured",
  );
}

/** What a request read of the table: index queries and the entries they read, and items read by key. */
interface ReadCounter {
  queries: number;
  scanned: number;
  keysRead: number;
}

/**
 * The read cost of a device-search page (50 devices) and of an overview count, over the 2,000-device fleet: index
 * entries read (a keys-only entry is ~150 bytes: 0.5 read unit per 4 KB a query reads, eventually consistent)
 * and devices read by key (0.5 read unit each, items under 4 KB).
 */
async function searchCosts(api: { url: string; jwt: string; reads: () => ReadCounter }): Promise<void> {
  const get = async (path: string) => {
    const response = await fetch(`${api.url}/appengine/v1/bench${path}`, {
      headers: { authorization: `Bearer ${api.jwt}` },
    });
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
    return (await response.json()) as { data: unknown[] };
  };
  for (const [label, query] of [
    ["status=confirmed", "status=confirmed"],
    ["sort=last_seen (24 ranges)", "sort=last_seen"],
    ["sort=expiry", "sort=expiry"],
  ] as const) {
    api.reads();
    const page = await get(`/devices?limit=50&${query}`);
    const r = api.reads();
    row(
      `search page of 50 of ${FLEET_PAIRINGS.toLocaleString("en-US")}, ${label}: index entries, queries, devices read`,
      `${r.scanned}, ${r.queries}, ${r.keysRead}`,
      `entries ≤ ${page.data.length} + 50`,
      r.scanned <= page.data.length + 50,
    );
  }
  api.reads();
  await get("/overview");
  const count = api.reads();
  row(
    `overview count of ${FLEET_PAIRINGS.toLocaleString("en-US")} devices: index entries read, queries`,
    `${count.scanned}, ${count.queries}`,
    "≈ 1 entry a device",
  );
}

const PAIRINGS = 200;
const FLEET_PAIRINGS = 2_000;

/** Pairs `count` devices through a fresh moto (as shipped, or patched) and the local API. */
async function pairThrough(
  vanilla: boolean,
  count: number,
  afterwards?: (api: { url: string; jwt: string; reads: () => ReadCounter }) => Promise<void>,
): Promise<{ perSecond: number; rssMb: number }> {
  const { startMoto } = await import("../local/moto.ts");
  const { freePort } = await import("../local/ports.ts");
  process.env.TETHER_MOTO_VANILLA = vanilla ? "1" : "0";
  const moto = await startMoto({ port: await freePort() });
  try {
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    });
    const { createAwsClients } = await import("../functions/adapters/aws-clients.ts");
    const { createPairingDeps, setPairingDeps } = await import("../functions/adapters/container.ts");
    const { loadConfig } = await import("../functions/adapters/config.ts");
    const { bootstrapLocal } = await import("../local/bootstrap.ts");
    const { localFunctionEnv } = await import("../local/tether-env.ts");
    const { startApiServer } = await import("../local/api-server.ts");
    const { generateKeyAndCsr } = await import("../sdk/csr.ts");
    const { randomDeviceId } = await import("../functions/contracts/ids.ts");
    const env = await bootstrapLocal(createAwsClients());
    const { UNLIMITED_BUDGET } = await import("../functions/core/aws-budget.ts");
    // moto's pace is measured here, not the AWS quotas' (the budget would hold it at 8 pairings a second).
    Object.assign(process.env, localFunctionEnv(env, "mqtts://localhost:8883/", UNLIMITED_BUDGET), {
      POWERTOOLS_LOG_LEVEL: "SILENT",
    });
    // The handlers' adapters, with clients of their own for this emulator (the first run's are gone with it).
    const clients = createAwsClients();
    let reads: ReadCounter = { queries: 0, scanned: 0, keysRead: 0 };
    clients.dynamo.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const input = args.input as {
          IndexName?: string;
          RequestItems?: Record<string, { Keys?: unknown[] }>;
        };
        const output = out.output as { ScannedCount?: number; Count?: number };
        if (input.IndexName === "by-view") {
          reads.queries++;
          reads.scanned += output.ScannedCount ?? 0;
        }
        if (input.RequestItems) {
          for (const request of Object.values(input.RequestItems))
            reads.keysRead += request.Keys?.length ?? 0;
        }
        return out;
      },
      { step: "initialize", name: "benchReads" },
    );
    setPairingDeps(createPairingDeps(loadConfig(), clients));
    const api = await startApiServer({ port: await freePort(), adminToken: "bench" });
    try {
      const { publicKey, privateKey } = await generateKeyPair("ES256");
      await fetch(`${api.url}/housekeeping/v1/realms`, {
        method: "POST",
        headers: { authorization: "Bearer bench", "content-type": "application/json" },
        body: JSON.stringify({
          data: { realm_name: "bench", jwt_public_key_pem: await exportSPKI(publicKey) },
        }),
      });
      const jwt = await new SignJWT({ a_pa: [".*::.*"], a_aea: [".*::.*"] })
        .setProtectedHeader({ alg: "ES256" })
        .setExpirationTime("2h")
        .sign(privateKey);
      const pairOne = async () => {
        const id = randomDeviceId();
        const registered = await fetch(`${api.url}/pairing/v1/bench/agent/devices`, {
          method: "POST",
          headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
          body: JSON.stringify({ data: { hw_id: id } }),
        });
        const secret = ((await registered.json()) as { data: { credentials_secret: string } }).data
          .credentials_secret;
        const { csrPem } = await generateKeyAndCsr({ subject: `CN=bench/${id}` });
        const issued = await fetch(
          `${api.url}/pairing/v1/bench/devices/${id}/protocols/astarte_mqtt_v1/credentials`,
          {
            method: "POST",
            headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
            body: JSON.stringify({ data: { csr: csrPem } }),
          },
        );
        if (issued.status !== 201) throw new Error(`pairing answered ${issued.status}`);
      };
      await pairOne();
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next++ < count) await pairOne();
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const measured = { perSecond: count / seconds, rssMb: await residentMb(moto.pid) };
      await afterwards?.({
        url: api.url,
        jwt,
        reads: () => {
          const taken = reads;
          reads = { queries: 0, scanned: 0, keysRead: 0 };
          return taken;
        },
      });
      return measured;
    } finally {
      await api.close();
    }
  } finally {
    await moto.stop();
    delete process.env.TETHER_MOTO_VANILLA;
  }
}

/** A process's resident memory (Linux /proc), in MB. */
async function residentMb(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round(kb / 1024);
}

async function writeReadme(): Promise<void> {
  const readme = await readFile(README, "utf8");
  if (!readme.includes(START) || !readme.includes(END)) return;
  const node = process.version;
  const table = [
    `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} (Node ${node}, ${(await import("node:os")).cpus().length} cores).`,
    "",
    "| figure | value | baseline (the run before) | target | |",
    "| --- | ---: | ---: | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.figure} | ${r.value} | ${r.baseline} | ${r.target} | ${r.ok === undefined ? "" : r.ok ? "✓" : "✗"} |`,
    ),
  ].join("\n");
  await writeFile(
    README,
    `${readme.slice(0, readme.indexOf(START) + START.length)}\n${table}\n${readme.slice(readme.indexOf(END))}`,
  );
}

console.log("Tether benchmark\n");
await bundles();
await cpuAndSequence();
await polling();
await throughput();
await writeReadme();
console.log("\nWritten to README.md (Performance).");
