// `npm run simulate [-- --scale 20] [--scenario steady,factory] [--ca-mode general-purpose] [--quota op=n]… [--json]`: Tether's use-cases on the
// in-memory adapters, a fleet behaving as the SDK does, AWS's quotas modelled per operation, in virtual time.
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { CaMode } from "../cli/cost.ts";
import { AWS_OPERATION_NAMES, type AwsOperationName } from "../functions/core/aws-quotas.ts";
import { agreement } from "./agree.ts";
import { runScenario, type ScenarioResult } from "./engine.ts";
import { plotSvg } from "./plot.ts";
import { SCENARIOS } from "./scenarios.ts";

const { values } = parseArgs({
  options: {
    scale: { type: "string", default: "20" },
    scenario: { type: "string" },
    json: { type: "boolean", default: false },
    out: { type: "string", default: "test-results/simulate" },
    days: { type: "string" },
    readme: { type: "boolean", default: false },
    /** Scenarios run at once, each in its own process (default: one per core). */
    parallel: { type: "string" },
    /** Also run every scenario at 1/N and report whether the two scales agree (exit 1 if not). */
    agree: { type: "string" },
    /** The CA mode the month's bill is priced in: short-lived (the default) or general-purpose. */
    "ca-mode": { type: "string", default: "short-lived" },
    /** An account quota raised above AWS's default, `operation=requests-per-second` (repeatable). */
    quota: { type: "string", multiple: true },
    /** Internal: run this one scenario and print its full result as JSON (a child of the parent run). */
    worker: { type: "string" },
  },
});
const divisor = Number(values.scale);
if (!Number.isFinite(divisor) || divisor < 1)
  throw new Error("--scale N runs 1/N of every fleet and quota (N ≥ 1)");
const caMode = values["ca-mode"] as CaMode;
if (caMode !== "short-lived" && caMode !== "general-purpose")
  throw new Error("--ca-mode is short-lived or general-purpose");
const quotas: Partial<Record<AwsOperationName, number>> = {};
for (const entry of values.quota ?? []) {
  const [name, value] = entry.split("=");
  if (!AWS_OPERATION_NAMES.includes(name as AwsOperationName) || !(Number(value) > 0))
    throw new Error(
      `--quota ${entry}: operation=requests-per-second, one of ${AWS_OPERATION_NAMES.join(", ")}`,
    );
  quotas[name as AwsOperationName] = Number(value);
}
const wanted = values.scenario?.split(",") ?? SCENARIOS.map((s) => s.name);
const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0)
  throw new Error(`unknown scenario ${unknown.join(", ")}: ${SCENARIOS.map((s) => s.name).join(", ")}`);
const outDir = resolve(values.out);
await mkdir(outDir, { recursive: true });

/** Runs one scenario here, with its progress bar on stderr. */
async function runHere(spec: (typeof SCENARIOS)[number], at = divisor): Promise<ScenarioResult> {
  const run = values.days ? { ...spec, days: Number(values.days) } : spec;
  return runScenario(run, {
    scale: 1 / at,
    caMode,
    quotas,
    onProgress: (done) => {
      if (!process.stderr.isTTY && Math.round(done * 100) % 10 !== 0) return;
      const width = 30;
      const filled = Math.round(done * width);
      process.stderr.write(
        `${process.stderr.isTTY ? "\r" : ""}${spec.name.padEnd(8)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${Math.round(
          done * 100,
        )
          .toString()
          .padStart(3)}%${process.stderr.isTTY ? "" : "\n"}`,
      );
    },
  });
}

/**
 * Runs one scenario in a child process (the engine is single-threaded: scenarios run side by side on the cores,
 * each exactly as it would alone).
 */
function runInChild(spec: (typeof SCENARIOS)[number], at: number): Promise<ScenarioResult> {
  const args = [
    fileURLToPath(import.meta.url),
    "--worker",
    spec.name,
    "--scale",
    String(at),
    "--ca-mode",
    caMode,
  ];
  if (values.days) args.push("--days", values.days);
  for (const entry of values.quota ?? []) args.push("--quota", entry);
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  return new Promise((done, fail) => {
    child.on("error", fail);
    child.on("close", (code) =>
      code === 0
        ? done(JSON.parse(out) as ScenarioResult)
        : fail(new Error(`${spec.name} exited with ${code}`)),
    );
  });
}

if (values.worker) {
  const spec = SCENARIOS.find((s) => s.name === values.worker);
  if (!spec) throw new Error(`unknown scenario ${values.worker}`);
  process.stdout.write(JSON.stringify(await runHere(spec)));
  process.exit(0);
}

const wallStart = performance.now();
const chosen = SCENARIOS.filter((s) => wanted.includes(s.name));
const agreeDivisor = values.agree === undefined ? undefined : Number(values.agree);
if (agreeDivisor !== undefined && !(agreeDivisor >= 1))
  throw new Error("--agree N compares with 1/N (N ≥ 1)");
// Every scenario at the run's scale, and at the compared one if asked.
const jobs = [...chosen.keys()].flatMap((index) => [
  { index, at: divisor },
  ...(agreeDivisor === undefined ? [] : [{ index, at: agreeDivisor }]),
]);
const parallel = Math.max(1, Math.min(jobs.length, Number(values.parallel ?? availableParallelism())));
const results: ScenarioResult[] = new Array(chosen.length);
const compared: ScenarioResult[] = new Array(chosen.length);
const timings: string[] = new Array(chosen.length);
let nextJob = 0;
// The longest first (steady), so the others share the remaining cores while it runs.
jobs.sort((a, b) => weight(chosen[b.index]) / b.at - weight(chosen[a.index]) / a.at);
await Promise.all(
  Array.from({ length: parallel }, async () => {
    for (;;) {
      const job = jobs[nextJob++];
      if (job === undefined) return;
      const spec = chosen[job.index] as (typeof chosen)[number];
      const started = performance.now();
      const result = parallel > 1 ? await runInChild(spec, job.at) : await runHere(spec, job.at);
      const seconds = (performance.now() - started) / 1000;
      process.stderr.write(
        `${process.stderr.isTTY ? "\n" : ""}${spec.name} at 1/${job.at}: ${seconds.toFixed(0)} s\n`,
      );
      if (job.at !== divisor) {
        compared[job.index] = result;
        continue;
      }
      timings[job.index] = `${spec.name} ${seconds.toFixed(0)} s`;
      await writeFile(join(outDir, `${spec.name}.svg`), plotSvg(result));
      results[job.index] = result;
    }
  }),
);

const wallSeconds = (performance.now() - wallStart) / 1000;
process.stderr.write(`all ${chosen.length} scenarios: ${wallSeconds.toFixed(0)} s, ${parallel} at a time\n`);

/** Device-days a scenario simulates: what its run time follows. */
function weight(spec: (typeof SCENARIOS)[number] | undefined): number {
  return spec ? spec.devices * (spec.days + (spec.warm ? 4.67 : 0)) : 0;
}

const summary = results.map(({ series: _series, ...rest }) => rest);
const agreements =
  agreeDivisor === undefined
    ? undefined
    : results.map((r, i) => ({
        name: r.name,
        scales: [r.scale, compared[i]?.scale],
        figures: agreement(r, compared[i] as ScenarioResult),
      }));
if (agreements) {
  for (const a of agreements) {
    for (const f of a.figures) {
      process.stderr.write(
        `${a.name} ${f.figure}: ${f.a} at ${a.scales[0]}, ${f.b} at ${a.scales[1]} (${(f.difference * 100).toFixed(1)} %) ${f.agrees ? "agrees" : "DISAGREES"}\n`,
      );
    }
  }
  if (agreements.some((a) => a.figures.some((f) => !f.agrees))) process.exitCode = 1;
}
if (values.json) {
  process.stdout.write(
    `${JSON.stringify({ scenarios: summary, ...(agreements ? { agreement: agreements } : {}) }, null, 2)}\n`,
  );
} else {
  for (const r of summary) {
    process.stdout.write(
      `\n${r.name} (${r.devices.toLocaleString("en-US")} devices at ${r.scale}, ${r.simulatedDays} days)\n`,
    );
    for (const [key, value] of Object.entries(r)) {
      if (key !== "name") process.stdout.write(`  ${key.padEnd(28)} ${value}\n`);
    }
  }
  process.stdout.write(`\nplots: ${outDir}/<scenario>.svg\n`);
}

if (values.readme) {
  // README's figures: this run's, with the scale and the wall time they came from.
  const keys = [
    "devices",
    "scale",
    "simulatedDays",
    "issued",
    "superseded",
    "swept",
    "pastGraceActiveP99Seconds",
    "pastGraceActiveMaxSeconds",
    "dueBacklogEnd",
    "http5xx",
    "throttled429",
    "share429",
    "longestWaitHours",
    "drainHours",
    "devicesExpiredWhileOnline",
    "unpairedAtEnd",
    "throttledByAws",
    "lastPairedHours",
    "caMode",
    "costPerMonthUsd",
  ] as const;
  const rows = keys.map(
    (key) =>
      `| \`${key}\` | ${summary.map((r) => (typeof r[key] === "object" ? JSON.stringify(r[key]).replaceAll("|", "\\|") : String(r[key]))).join(" | ")} |`,
  );
  const table = [
    `Measured by \`npm run simulate -- --scale ${divisor} --readme\` on ${new Date().toISOString().slice(0, 10)} on this 2-core machine: ${wallSeconds.toFixed(0)} s in all (${parallel} at a time: ${timings.join(", ")}):`,
    "",
    `| figure | ${summary.map((r) => r.name).join(" | ")} |`,
    `| --- | ${summary.map(() => "---:").join(" | ")} |`,
    ...rows,
  ].join("\n");
  const path = resolve(import.meta.dirname, "..", "README.md");
  const readme = await readFile(path, "utf8");
  const start = "<!-- simulate:start -->";
  const end = "<!-- simulate:end -->";
  await writeFile(
    path,
    `${readme.slice(0, readme.indexOf(start) + start.length)}\n${table}\n${readme.slice(readme.indexOf(end))}`,
  );
}
