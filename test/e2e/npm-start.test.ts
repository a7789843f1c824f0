import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../local/ports.ts";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "../..");

/**
 * `npm start` as a newcomer runs it: a child process that brings up local AWS, the broker and the API, then
 * prints a walkthrough; the walkthrough, run by bash in a scratch folder, must pair a device and publish.
 */
describe("npm start and its walkthrough", () => {
  let child: ChildProcess;
  let output = "";
  let stateDir: string;
  let scratch: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "tether-state-"));
    scratch = await mkdtemp(join(tmpdir(), "tether-walkthrough-"));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TETHER_STATE_DIR: stateDir,
      TETHER_API_PORT: String(await freePort()),
      TETHER_AWS_PORT: String(await freePort()),
      TETHER_MQTT_PORT: String(await freePort()),
    };
    delete env.AWS_ENDPOINT_URL;
    child = spawn(join(REPO, "node_modules/.bin/tsx"), ["local/start.ts"], { cwd: REPO, env });
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const deadline = Date.now() + 90_000;
    while (!output.includes("Ctrl-C stops everything") && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await exited;
    }
    await rm(stateDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it("writes local.json with exactly the documented keys", async () => {
    expect(output).toContain("Ctrl-C stops everything");
    const config = JSON.parse(await readFile(join(stateDir, "local.json"), "utf8"));
    expect(Object.keys(config).sort()).toEqual(
      [
        "appengineUrl",
        "awsEndpoint",
        "brokerCaPath",
        "brokerUrl",
        "caCertPath",
        "pairingUrl",
        "realm",
        "realmPrivateKeyPath",
      ].sort(),
    );
    expect(config.brokerUrl).toMatch(/^mqtts:\/\/localhost:\d+\/$/);
  });

  it("prints a walkthrough that registers, pairs and publishes when pasted into a shell", async () => {
    const script = output
      .split("Pair a demo device")[1]
      ?.split("Ctrl-C stops everything")[0]
      ?.split("\n")
      .slice(1)
      .join("\n");
    expect(script).toBeDefined();
    const { stdout } = await run("bash", ["-e", "-c", script ?? "false"], { cwd: scratch, timeout: 60_000 });
    expect(stdout).toContain('"status":"pending"');
    expect(stdout).toContain("published");
  });

  it("runs the smart-meter demo: the meter pairs through the SDK and its metadata arrives", async () => {
    const { stdout } = await run(join(REPO, "node_modules/.bin/tsx"), ["local/demo-meter.ts"], {
      cwd: REPO,
      env: { ...process.env, TETHER_STATE_DIR: stateDir },
      timeout: 60_000,
    });
    expect(stdout).toContain("sent metadata");
    const deadline = Date.now() + 5_000;
    while (!output.includes("metadata from demo/") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(output).toMatch(
      /metadata from demo\/[A-Za-z0-9_-]{22}: \{"model":"MySmartMeter A300","mac":"00-14-22-01-23-45"\}/,
    );
    // After the walkthrough and the demo, the terminal holds Tether's own lines: no metric JSON.
    expect(output).not.toContain('{"_aws"');
  });

  it("prints no EBADENGINE line from npm ci, even with an older system Node first on PATH", async () => {
    // npm checks engines against the Node it runs on: whichever PATH finds first (this machine's system Node is
    // 20; with npm's default log level the same command prints 15 EBADENGINE lines). A dry run changes nothing.
    const { stdout, stderr } = await run("npm", ["ci", "--dry-run", "--ignore-scripts"], {
      cwd: REPO,
      env: { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ""}` },
      timeout: 120_000,
    });
    expect(`${stdout}${stderr}`).not.toContain("EBADENGINE");
  });

  it("stops every child process on Ctrl-C", async () => {
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    const port = Number(/Local AWS\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
    await expect(fetch(`http://127.0.0.1:${port}/moto-api/data.json`)).rejects.toThrow();
  });
});
