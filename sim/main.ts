// `npm run simulate [-- --scale 20] [--scenario steady,factory] [--json] [--out dir]`: Tether's use-cases on the
// in-memory adapters, a fleet behaving as the SDK does, AWS's quotas modelled per operation, in virtual time.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
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

const results: ScenarioResult[] = [];
const timings: string[] = [];
for (const spec of SCENARIOS.filter((s) => wanted.includes(s.name))) {
  const started = performance.now();
  const run = values.days ? { ...spec, days: Number(values.days) } : spec;
  const result = await runScenario(run, {
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
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`${process.stderr.isTTY ? "\n" : ""}${spec.name}: ${seconds.toFixed(0)} s\n`);
  timings.push(`${spec.name} ${seconds.toFixed(0)} s`);
  await writeFile(join(outDir, `${spec.name}.svg`), plotSvg(result));
  results.push(result);
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
    `Measured by \`npm run simulate -- --scale ${divisor} --readme\` on ${new Date().toISOString().slice(0, 10)}, ${timings.join(", ")} on this 2-core machine:`,
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
