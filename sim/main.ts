// `npm run simulate [-- --scale 20] [--scenario steady,factory] [--json] [--out dir]`: Tether's use-cases on the
// in-memory adapters, a fleet behaving as the SDK does, AWS's quotas modelled per operation, in virtual time.
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
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
    /** Internal: run this one scenario and print its full result as JSON (a child of the parent run). */
    worker: { type: "string" },
  },
});
const divisor = Number(values.scale);
if (!Number.isFinite(divisor) || divisor < 1)
  throw new Error("--scale N runs 1/N of every fleet and quota (N ≥ 1)");
const wanted = values.scenario?.split(",") ?? SCENARIOS.map((s) => s.name);
const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0)
  throw new Error(`unknown scenario ${unknown.join(", ")}: ${SCENARIOS.map((s) => s.name).join(", ")}`);
const outDir = resolve(values.out);
await mkdir(outDir, { recursive: true });

/** Runs one scenario here, with its progress bar on stderr. */
async function runHere(spec: (typeof SCENARIOS)[number]): Promise<ScenarioResult> {
  const run = values.days ? { ...spec, days: Number(values.days) } : spec;
  return runScenario(run, {
    scale: 1 / divisor,
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
function runInChild(spec: (typeof SCENARIOS)[number]): Promise<ScenarioResult> {
  const args = [fileURLToPath(import.meta.url), "--worker", spec.name, "--scale", String(divisor)];
  if (values.days) args.push("--days", values.days);
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
const parallel = Math.max(1, Math.min(chosen.length, Number(values.parallel ?? availableParallelism())));
const results: ScenarioResult[] = new Array(chosen.length);
const timings: string[] = new Array(chosen.length);
let nextIndex = 0;
// The longest first (steady), so the others share the remaining cores while it runs.
const order = [...chosen.keys()].sort((a, b) => weight(chosen[b]) - weight(chosen[a]));
await Promise.all(
  Array.from({ length: parallel }, async () => {
    for (;;) {
      const index = order[nextIndex++];
      if (index === undefined) return;
      const spec = chosen[index] as (typeof chosen)[number];
      const started = performance.now();
      const result = parallel > 1 ? await runInChild(spec) : await runHere(spec);
      const seconds = (performance.now() - started) / 1000;
      process.stderr.write(`${process.stderr.isTTY ? "\n" : ""}${spec.name}: ${seconds.toFixed(0)} s\n`);
      timings[index] = `${spec.name} ${seconds.toFixed(0)} s`;
      await writeFile(join(outDir, `${spec.name}.svg`), plotSvg(result));
      results[index] = result;
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
if (values.json) {
  process.stdout.write(`${JSON.stringify({ scenarios: summary }, null, 2)}\n`);
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
