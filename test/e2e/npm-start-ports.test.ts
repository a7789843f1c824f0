import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { freePort } from "../../local/ports.ts";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "../..");

/** `npm start` with a port it cannot use: it says why at once and starts nothing. */
describe("npm start refuses unusable ports at once", () => {
  const start = async (env: Record<string, string>) =>
    run(resolve(REPO, "node_modules/.bin/tsx"), ["local/start.ts"], {
      cwd: REPO,
      env: { ...process.env, ...env },
      timeout: 30_000,
    }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code ?? -1,
        stdout: error.stdout ?? "",
        stderr: error.stderr ?? "",
      }),
    );

  it.each(["6000", "10080", "6667"])("TETHER_API_PORT=%s (a port fetch blocks)", async (port) => {
    const result = await start({
      TETHER_API_PORT: port,
      TETHER_AWS_PORT: String(await freePort()),
      TETHER_MQTT_PORT: String(await freePort()),
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `[tether] could not start: TETHER_API_PORT=${port} is a port browsers and Node's fetch refuse to connect to`,
    );
    // Refused before anything started: not a line from the emulator, the broker or the API.
    expect(result.stdout).toBe("");
  });

  it("a port another process listens on", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as { port: number }).port;
    try {
      const result = await start({
        TETHER_API_PORT: String(await freePort()),
        TETHER_AWS_PORT: String(await freePort()),
        TETHER_MQTT_PORT: String(port),
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`TETHER_MQTT_PORT=${port} is already in use on 127.0.0.1`);
      expect(result.stdout).toBe("");
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });
});
