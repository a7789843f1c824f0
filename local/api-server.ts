import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { type HandlerName, ROUTES, type Route } from "../functions/http/routes.ts";
import { dashboardSecurityHeaders } from "../infra/dashboard-headers.ts";
import { runningFunction } from "./function-context.ts";

/** What API Gateway would pass through at most; the handlers themselves refuse far less (64 KiB). */
const MAX_READ_BYTES = 1024 * 1024;

type LambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface ApiServerOptions {
  readonly port: number;
  readonly host?: string;
  /** Bearer token the housekeeping API requires (plays the part of API Gateway's IAM authorization). */
  readonly adminToken: string;
  /** Serves the dashboard at `/`, with `config.json` from this function (S3 + CloudFront do it on AWS). */
  readonly dashboard?: () => Record<string, unknown>;
  /**
   * Serves bundled handlers (`<dir>/<handler>/index.mjs`, as infra/bundling.ts makes them for Lambda) instead
   * of the TypeScript sources: the deployed artifacts, run locally.
   */
  readonly handlersDir?: string;
}

const DASHBOARD_DIR = resolve(import.meta.dirname, "..", "dashboard");
const DASHBOARD_FILES: Record<string, string> = {
  "/": "index.html",
  "/index.html": "index.html",
  "/app.js": "app.js",
  "/ui.js": "ui.js",
  "/overview.js": "overview.js",
  "/charts.js": "charts.js",
  "/styles.css": "styles.css",
};
const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

interface CompiledRoute extends Route {
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

const compiled: CompiledRoute[] = ROUTES.map((route) => {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  // Exact paths, as API Gateway routes them: `/devices/` is not `/devices`.
  return { ...route, pattern: new RegExp(`^/${route.api}${source}$`), names };
});

const handlers = new Map<string, Promise<LambdaHandler>>();
function loadHandler(name: HandlerName, handlersDir: string | undefined): Promise<LambdaHandler> {
  const module = handlersDir
    ? pathToFileURL(join(handlersDir, name, "index.mjs")).href
    : `../functions/handlers/${name}.ts`;
  let loaded = handlers.get(module);
  if (!loaded) {
    loaded = import(module).then((m: { handler: LambdaHandler }) => m.handler);
    handlers.set(module, loaded);
  }
  return loaded;
}

/**
 * Serves Tether's routes on one port the way API Gateway (HTTP API, payload v2) does in front of the Lambda
 * functions: each request becomes the same event the functions get on AWS, and the same handler modules
 * answer it. APIs are mounted at `/pairing`, `/appengine` and `/housekeeping`.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const server = createServer((req, res) => {
    serve(req, res, options).catch((error: unknown) => {
      console.error("local API server failure", error);
      if (!res.headersSent)
        send(res, { statusCode: 500, body: '{"errors":{"detail":"Internal server error"}}' });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host ?? "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Loopback names only. A page on another site can make a browser send requests to this port under its own
 * host name (DNS rebinding); answering only these Host headers keeps it from reading the API or config.json.
 */
const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;

async function serve(req: IncomingMessage, res: ServerResponse, options: ApiServerOptions): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = req.method ?? "GET";
  if (!LOCAL_HOST.test(req.headers.host ?? "")) {
    req.resume();
    return send(res, { statusCode: 421, body: '{"errors":{"detail":"Misdirected request"}}' });
  }
  const match = findRoute(method, url.pathname);
  if (!match) {
    req.resume();
    if (options.dashboard && method === "GET") {
      if (url.pathname === "/config.json") {
        res.writeHead(200, {
          "content-type": "application/json; charset=utf-8",
          "cache-control": "no-store",
          ...dashboardSecurityHeaders(undefined),
        });
        res.end(JSON.stringify(options.dashboard()));
        return;
      }
      const file = DASHBOARD_FILES[url.pathname];
      if (file) {
        const body = await readFile(join(DASHBOARD_DIR, file), "utf8");
        res.writeHead(200, {
          "content-type": CONTENT_TYPES[file.split(".").pop() ?? ""] ?? "text/plain",
          ...dashboardSecurityHeaders(undefined),
        });
        res.end(body);
        return;
      }
    }
    return send(res, notFound());
  }
  if (match.route.auth === "iam" && req.headers.authorization !== `Bearer ${options.adminToken}`) {
    req.resume();
    return send(res, { statusCode: 403, body: '{"message":"Forbidden"}' });
  }
  const body = await readBody(req);
  if (body === undefined) {
    return send(res, { statusCode: 413, body: '{"errors":{"detail":"Payload too large"}}' });
  }
  const requestId = randomUUID();
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: `${method} ${match.route.path}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: flattenHeaders(req),
    pathParameters: match.params,
    ...(url.searchParams.size > 0 ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: "000000000000",
      apiId: `local-${match.route.api}`,
      domainName: req.headers.host ?? "localhost",
      domainPrefix: "localhost",
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1",
        userAgent: req.headers["user-agent"] ?? "",
      },
      requestId,
      routeKey: `${method} ${match.route.path}`,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  };
  const handler = await loadHandler(match.route.handler, options.handlersDir);
  const context = lambdaContext(match.route.handler, requestId);
  send(res, await runningFunction.run(match.route.handler, () => handler(event, context)));
}

function findRoute(method: string, path: string) {
  for (const route of compiled) {
    if (route.method !== method) continue;
    const found = route.pattern.exec(path);
    if (!found) continue;
    const params: Record<string, string> = {};
    try {
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(found[i + 1] ?? "");
      });
    } catch {
      return undefined;
    }
    return { route, params };
  }
  return undefined;
}

function notFound(): APIGatewayProxyStructuredResultV2 {
  return { statusCode: 404, body: '{"errors":{"detail":"Page not found"}}' };
}

/** API Gateway v2 lowercases header names and joins repeated headers with commas. */
function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headersDistinct)) {
    if (value) headers[name.toLowerCase()] = value.join(",");
  }
  return headers;
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_READ_BYTES) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.body ?? "");
}

function lambdaContext(functionName: string, requestId: string): Context {
  const deadline = Date.now() + 29_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
