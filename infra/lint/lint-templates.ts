// `npm run lint:templates`: synthesizes the CDK app in a dev and a prod-like context (region and account set)
// and runs real linters over every template: cfn-lint (CloudFormation's own rules and resource specs) and
// parliament (IAM actions and the resource types they apply to), from their own venv in .tether/lint-venv.
// CI runs it after `npm run synth`; any finding not explained in infra/lint fails it.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { App } from "aws-cdk-lib";
import { ensureVenv } from "../../local/moto.ts";
import { buildApp } from "../app.ts";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "../..");
const HERE = import.meta.dirname;

const CONTEXTS: Record<string, Record<string, unknown>> = {
  dev: { stage: "dev" },
  "prod (eu-west-1, account 111122223333)": {
    stage: "prod",
    region: "eu-west-1",
    account: "111122223333",
    alarmEmail: "ops@example.com",
  },
};

const cdkJson = JSON.parse(readFileSync(join(REPO, "cdk.json"), "utf8")) as {
  context: Record<string, unknown>;
};

async function main(): Promise<number> {
  const python = await ensureVenv(
    join(REPO, ".tether", "lint-venv"),
    join(HERE, "requirements.txt"),
    "template linters",
    (line) => console.log(line),
  );
  const bin = resolve(python, "..");
  let failed = false;
  const allTemplates: string[] = [];
  for (const [label, tether] of Object.entries(CONTEXTS)) {
    const outdir = mkdtempSync(join(tmpdir(), "tether-lint-"));
    buildApp(new App({ outdir, context: { ...cdkJson.context, tether } })).app.synth();
    const templates = readdirSync(outdir)
      .filter((f) => f.endsWith(".template.json"))
      .map((f) => join(outdir, f));
    console.log(`${label}: ${templates.length} templates`);
    allTemplates.push(...templates);
    for (const [name, args] of [
      ["cfn-lint", [join(bin, "cfn-lint"), "--config-file", join(HERE, ".cfnlintrc.yaml"), ...templates]],
      ["parliament", [python, join(HERE, "iam_lint.py"), join(HERE, "iam-lint-allow.json"), ...templates]],
    ] as const) {
      const [command, ...rest] = args;
      try {
        const { stdout } = await run(command, rest, { maxBuffer: 16 * 1024 * 1024 });
        console.log(`  ${name}: clean${stdout.trim() ? `\n${indent(stdout)}` : ""}`);
      } catch (error) {
        const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
        console.error(`  ${name}: FAILED\n${indent(`${stdout}${stderr}`)}`);
        failed = true;
      }
    }
  }
  // The region table infra/config.ts validates `region` with: which resource types the app uses each region
  // lacks. Regenerated here; stale (the app started using a new type, or cfn-lint's data moved) fails.
  const { stdout: table } = await run(python, [join(HERE, "region_support.py"), ...allTemplates], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const committed = join(REPO, "infra", "region-support.json");
  if (process.argv.includes("--write")) {
    writeFileSync(committed, table);
    console.log("region support: infra/region-support.json written");
  } else if (readFileSync(committed, "utf8") !== table) {
    console.error(
      "region support: infra/region-support.json is stale; run `npm run lint:templates -- --write`",
    );
    failed = true;
  } else {
    console.log("region support: infra/region-support.json is current");
  }
  return failed ? 1 : 0;
}

const indent = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");

process.exitCode = await main();
