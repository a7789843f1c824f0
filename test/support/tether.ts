import { randomBytes } from "node:crypto";
import { exportPKCS8, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { loadConfig } from "../../functions/adapters/config.ts";
import { createPairingDeps, setPairingDeps } from "../../functions/adapters/container.ts";
import { ApiClient } from "../../functions/contracts/client.ts";
import { type BudgetRates, UNLIMITED_BUDGET } from "../../functions/core/aws-budget.ts";
import type { Clock } from "../../functions/core/ports/system.ts";
import { startApiServer } from "../../local/api-server.ts";
import { freePort } from "../../local/ports.ts";
import { localFunctionEnv } from "../../local/tether-env.ts";
import { testBed } from "./test-bed.ts";

/** A clock tests can move; starts at the real time. */
export class MovableClock implements Clock {
  #offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }
  advance(ms: number): void {
    this.#offsetMs += ms;
  }
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the API answered
  readonly body: any;
}

export interface TestRealm {
  readonly name: string;
  readonly privateKeyPem: string;
  /** A JWT for this realm with the given claims (default: everything on Pairing and AppEngine). */
  jwt(claims?: Record<string, unknown>, options?: { expiresInSeconds?: number }): Promise<string>;
}

export interface LocalTether {
  readonly url: string;
  readonly adminToken: string;
  readonly clock: MovableClock;
  readonly brokerUrl: string;
  request(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
  /**
   * The typed client of the route contract (what the SDK and the CLI use), sending `token` as the bearer. Wire
   * tests that need malformed requests use {@link request}.
   */
  api(token?: string): ApiClient;
  createRealm(name: string, settings?: Record<string, unknown>): Promise<TestRealm>;
  close(): Promise<void>;
}

/**
 * Runs the real handlers behind the local API server, in this test worker, against the file's freshly
 * bootstrapped emulator and the shared broker. The clock is injected so tests can move time.
 */
export async function startLocalTether(
  options: {
    dashboard?: () => Record<string, unknown>;
    /** Serve these Lambda bundles instead of the sources; they build their own adapters (real clock). */
    handlersDir?: string;
    /**
     * The AWS request budget's rates; unlimited by default (tests move the clock, and a budget's state would
     * carry across them), set by the tests of the budget itself.
     */
    budget?: BudgetRates;
  } = {},
): Promise<LocalTether> {
  const bed = testBed();
  // Expected failures (500s from injected faults) would fill the output; TETHER_TEST_LOG_LEVEL=INFO shows them.
  process.env.POWERTOOLS_LOG_LEVEL = process.env.TETHER_TEST_LOG_LEVEL ?? "SILENT";
  const brokerUrl = `mqtts://localhost:${bed.brokerPort}/`;
  Object.assign(process.env, localFunctionEnv(bed.env, brokerUrl, options.budget ?? UNLIMITED_BUDGET));
  const clock = new MovableClock();
  if (!options.handlersDir) setPairingDeps(createPairingDeps(loadConfig(), bed.clients, clock));
  const adminToken = randomBytes(16).toString("hex");
  const server = await startApiServer({
    port: await freePort(),
    adminToken,
    ...(options.dashboard ? { dashboard: options.dashboard } : {}),
    ...(options.handlersDir ? { handlersDir: options.handlersDir } : {}),
  });

  const request: LocalTether["request"] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, text, body: parsed };
  };

  const api = (token?: string) =>
    new ApiClient({
      baseUrl: (name) => `${server.url}/${name}`,
      authorize: () => (token === undefined ? {} : { authorization: `Bearer ${token}` }),
    });

  return {
    url: server.url,
    adminToken,
    clock,
    brokerUrl,
    request,
    api,
    async createRealm(name, settings = {}) {
      const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
      await api(adminToken).call("createRealm", {
        params: {},
        body: { data: { realm_name: name, jwt_public_key_pem: await exportSPKI(publicKey), ...settings } },
      });
      return {
        name,
        privateKeyPem: await exportPKCS8(privateKey),
        jwt: (claims = { a_pa: [".*::.*"], a_aea: [".*::.*"] }, { expiresInSeconds = 300 } = {}) =>
          new SignJWT(claims)
            .setProtectedHeader({ alg: "ES256" })
            .setIssuedAt(Math.floor(clock.now().getTime() / 1000))
            .setExpirationTime(Math.floor(clock.now().getTime() / 1000) + expiresInSeconds)
            .sign(privateKey),
      };
    },
    async close() {
      await server.close();
      setPairingDeps(undefined);
    },
  };
}
