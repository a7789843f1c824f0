import { createServer } from "node:net";

/** Asks the kernel for a free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the port the kernel gave"));
      });
    });
  });
}

/** Reads a port from the environment, or the default; rejects anything that is not a TCP port. */
export function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name}=${raw} is not a TCP port (0-65535)`);
  }
  return port;
}

/**
 * Ports fetch refuses to connect to, in Node (undici) and every browser: the WHATWG Fetch standard's "bad
 * ports". An HTTP port `npm start` serves (the API, the dashboard, the local AWS) must not be one of them.
 */
export const FETCH_BLOCKED_PORTS: ReadonlySet<number> = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

export interface PortWanted {
  /** The environment variable that chose it. */
  readonly name: string;
  readonly port: number;
  /** Reached over HTTP by fetch or a browser (so a fetch-blocked port cannot work). */
  readonly http: boolean;
}

/**
 * Why these ports cannot be used, before anything starts: a port fetch blocks (for HTTP ones), or one another
 * process already listens on. Empty when all are usable. Port 0 (any free port) is always usable.
 */
export async function portProblems(ports: readonly PortWanted[]): Promise<string[]> {
  const problems: string[] = [];
  for (const { name, port, http } of ports) {
    if (port === 0) continue;
    if (http && FETCH_BLOCKED_PORTS.has(port)) {
      problems.push(
        `${name}=${port} is a port browsers and Node's fetch refuse to connect to; choose another`,
      );
    } else if (!(await canListen(port))) {
      problems.push(
        `${name}=${port} is already in use on 127.0.0.1; stop what listens there or choose another`,
      );
    }
  }
  return problems;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
