import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(here, "..");
const REQUIREMENTS = join(here, "moto", "requirements.txt");
const LAUNCHER = join(here, "moto", "launcher.py");

/** Git-ignored home of the emulator's Python venv. */
export const DEFAULT_VENV_DIR = join(REPO_ROOT, ".tether", "venv");

export interface MotoServer {
  /** What `AWS_ENDPOINT_URL` must be set to. */
  readonly endpoint: string;
  readonly port: number;
  /** The emulator's process id (the bench reads its memory). */
  readonly pid: number | undefined;
  /** Forgets every resource (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

class MissingDependencyError extends Error {}

/**
 * Creates the venv and installs the pinned moto into it, once: a stamp file holds the hash of
 * requirements.txt, so a changed pin reinstalls and an unchanged one costs nothing.
 */
export async function ensureMotoVenv(venvDir = DEFAULT_VENV_DIR, log = (_: string) => {}): Promise<string> {
  return ensureVenv(venvDir, REQUIREMENTS, "moto", log);
}

/**
 * A venv in `venvDir` with the pinned `requirements` installed, made once: a stamp file holds the hash of the
 * requirements, so a changed pin reinstalls and an unchanged one costs nothing. Returns its python.
 */
export async function ensureVenv(
  venvDir: string,
  requirementsPath: string,
  what: string,
  log = (_: string) => {},
): Promise<string> {
  const python = join(venvDir, "bin", "python");
  const stamp = join(venvDir, ".tether-requirements.sha256");
  const requirements = await readFile(requirementsPath);
  const wanted = createHash("sha256").update(requirements).digest("hex");
  if (existsSync(python) && existsSync(stamp) && (await readFile(stamp, "utf8")) === wanted) return python;

  const system = process.env.PYTHON ?? "python3";
  try {
    await run(system, ["-c", "import venv, ensurepip"]);
  } catch {
    throw new MissingDependencyError(
      `Tether's local AWS needs Python 3 with venv and pip (tried "${system}"). ` +
        "Install it (Debian/Ubuntu: apt-get install python3 python3-venv) or point PYTHON at one.",
    );
  }
  log(`creating the ${what} venv in ${venvDir} (once)…`);
  await mkdir(dirname(venvDir), { recursive: true });
  await run(system, ["-m", "venv", venvDir]);
  await run(
    python,
    ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirementsPath],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  await writeFile(stamp, wanted);
  return python;
}

export interface StartMotoOptions {
  readonly port: number;
  readonly venvDir?: string;
  readonly startTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** Starts moto's server on 127.0.0.1 and resolves once it answers. */
export async function startMoto(options: StartMotoOptions): Promise<MotoServer> {
  const { port, startTimeoutMs = 60_000, log } = options;
  const python = await ensureMotoVenv(options.venvDir, log);
  // stdin stays a pipe: the launcher exits when it closes, so moto never outlives this process.
  const child = spawn(python, [LAUNCHER, "--port", String(port)], { stdio: ["pipe", "pipe", "pipe"] });
  const stderr: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr.push(chunk.toString());
    if (stderr.length > 50) stderr.shift();
  });
  await waitForReady(child, startTimeoutMs, () => stderr.join(""));
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    pid: child.pid,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
      if (!response.ok) throw new Error(`moto reset answered ${response.status}`);
    },
    stop: () => stopChild(child),
  };
}

async function waitForReady(child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<void> {
  const stdout = child.stdout;
  if (!stdout) throw new Error("moto launcher has no stdout");
  const lines = createInterface({ input: stdout });
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`moto did not become ready within ${timeoutMs} ms:\n${stderr()}`));
    }, timeoutMs);
    lines.on("line", (line) => {
      if (line.startsWith("READY")) {
        clearTimeout(timer);
        resolvePromise();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`moto exited with code ${code} before it was ready:\n${stderr()}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.stdin?.end();
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

export { MissingDependencyError };
