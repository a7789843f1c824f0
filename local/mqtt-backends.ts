import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Aedes } from "aedes";
import { freePort } from "./ports.ts";

/**
 * The message router behind the local IoT Core front (`broker.ts`). The front terminates TLS and applies
 * every IoT Core rule; a backend only routes messages between admitted clients, on loopback, in plain TCP.
 * Debian's mosquitto 2 speaks MQTT 3.1.1 and 5; Aedes (in-process, always there) speaks 3.1.1 only.
 */
export interface MqttBackend {
  readonly kind: "mosquitto" | "aedes";
  readonly port: number;
  /** The MQTT protocol levels it routes: 4 (3.1.1) and, for mosquitto, 5. */
  readonly protocolVersions: readonly number[];
  close(): Promise<void>;
}

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where `npm run setup:local-aws` unpacks Debian's mosquitto when it is not installed (no root needed). */
const UNPACKED = join(ROOT, ".tether", "mosquitto");
const DEBIAN_PACKAGES = ["mosquitto", "libcjson1", "libdlt2", "libwrap0"];

export const MOSQUITTO_HINT =
  "MQTT 5 needs Debian's mosquitto 2: `sudo apt-get install mosquitto` (or `npm run setup:local-aws`, which unpacks it without root)";

interface Mosquitto {
  readonly binary: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A runnable mosquitto: `TETHER_MOSQUITTO`, the copy setup unpacked, or the system's; undefined if none. */
export function findMosquitto(): Mosquitto | undefined {
  const unpackedBinary = join(UNPACKED, "usr", "sbin", "mosquitto");
  const candidates: Mosquitto[] = [];
  if (process.env.TETHER_MOSQUITTO) candidates.push({ binary: process.env.TETHER_MOSQUITTO, env: {} });
  candidates.push({
    binary: unpackedBinary,
    env: { LD_LIBRARY_PATH: join(UNPACKED, "usr", "lib", "x86_64-linux-gnu") },
  });
  for (const dir of ["/usr/sbin", "/usr/local/sbin", ...(process.env.PATH ?? "").split(":")]) {
    if (dir) candidates.push({ binary: join(dir, "mosquitto"), env: {} });
  }
  return candidates.find((c) => existsSync(c.binary));
}

/**
 * Makes mosquitto available: already there, or downloaded from Debian's archive with `apt-get download`
 * (which needs no root) and unpacked under `.tether/mosquitto`. Undefined when neither works.
 */
export async function ensureMosquitto(
  log: (line: string) => void = () => {},
): Promise<Mosquitto | undefined> {
  const found = findMosquitto();
  if (found && (await works(found))) return found;
  try {
    const debs = join(ROOT, ".tether", "debs");
    await mkdir(debs, { recursive: true });
    log("downloading Debian's mosquitto (apt-get download, no root) …");
    await run("apt-get", ["download", ...DEBIAN_PACKAGES], { cwd: debs });
    for (const file of await readdir(debs)) {
      if (file.endsWith(".deb")) await run("dpkg", ["-x", join(debs, file), UNPACKED]);
    }
  } catch (error) {
    log(`could not fetch mosquitto: ${(error as Error).message.split("\n")[0]}`);
    return undefined;
  }
  const unpacked = findMosquitto();
  return unpacked && (await works(unpacked)) ? unpacked : undefined;
}

async function works(mosquitto: Mosquitto): Promise<boolean> {
  try {
    // `-h` prints the version and exits 3; what matters is that it runs and names MQTT v5.0.
    await run(mosquitto.binary, ["-h"], { env: { ...process.env, ...mosquitto.env } });
    return true;
  } catch (error) {
    const out = (error as { stdout?: string }).stdout ?? "";
    return out.includes("MQTT v5.0");
  }
}

/** Starts mosquitto on a free loopback port, with no persistence and no limits of its own (the front has them). */
export async function startMosquitto(
  mosquitto: Mosquitto,
  log: (line: string) => void = () => {},
): Promise<MqttBackend> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "tether-mosquitto-"));
  const config = join(dir, "mosquitto.conf");
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      // Run as whoever started it (as root, mosquitto would otherwise try to switch to a `mosquitto` user).
      `user ${userInfo().username}`,
      "allow_anonymous true",
      "persistence false",
      // Keep-alive is the front's to enforce (IoT Core's bounds); mosquitto must not refuse any value.
      "max_keepalive 65535",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(mosquitto.binary, ["-c", config], {
    env: { ...process.env, ...mosquitto.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      // Running as root is how CI runs it; mosquitto's warning about it is noise here.
      if (line.trim() && !line.includes("should not be run as root")) log(`mosquitto: ${line.trim()}`);
    }
  });
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  await waitForPort(port, exited);
  return {
    kind: "mosquitto",
    port,
    protocolVersions: [4, 5],
    async close() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, exited: Promise<number | null>): Promise<void> {
  let gone: number | null | undefined;
  void exited.then((code) => {
    gone = code;
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    if (gone !== undefined) throw new Error(`mosquitto exited with code ${gone} before listening`);
    if (await accepts(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port} within 5 s`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

/** Aedes over plain TCP on loopback: MQTT 3.1.1 only. */
export async function startAedes(): Promise<MqttBackend> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer((socket) => aedes.handle(socket));
  const port = await freePort();
  await new Promise<void>((done) => server.listen(port, "127.0.0.1", done));
  return {
    kind: "aedes",
    port,
    protocolVersions: [4],
    async close() {
      await new Promise<void>((done) => aedes.close(() => done()));
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
