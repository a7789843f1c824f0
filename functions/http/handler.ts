import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy, { type MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type * as z from "zod/mini";
import { ROUTES, type RouteContract, type RouteName } from "../contracts/routes.ts";
import { MalformedRequestError, PayloadTooLargeError } from "../core/errors.ts";
import type { Realm } from "../core/model.ts";
import type { RequestMeta } from "../core/pairing-deps.ts";
import type { DeviceCredentials, RealmDevice } from "../core/use-cases/authenticate.ts";
import { type AgentAuthDeps, authorizeAgent, deviceCredentials } from "./auth.ts";
import { errorCode, errorResponse } from "./errors.ts";
import { logger, metrics } from "./observability.ts";
import { parseEnvelope, parseQuery } from "./validation.ts";

/** Largest request body Tether reads (a CSR or certificate is a few KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

/** What a route handler sees of the HTTP request. */
export interface HttpRequest {
  readonly method: string;
  /** The path parameters present. */
  readonly params: Readonly<Record<string, string>>;
  param(name: string): string;
  header(name: string): string | undefined;
  readonly queries: Readonly<Record<string, string | undefined>>;
  /** The JSON body; 400 if it is not JSON, 413 if it is too large. */
  body(): unknown;
  readonly meta: RequestMeta;
}

export interface RouteResult {
  readonly response: Result;
  /** Metric counted once for this request's outcome (e.g. `DeviceRegistered`); every request has one. */
  readonly outcome: string;
}

function toRequest(event: Event, context: Context): HttpRequest {
  let parsed: { value: unknown } | undefined;
  return {
    method: event.requestContext.http.method,
    params: Object.fromEntries(
      Object.entries(event.pathParameters ?? {}).filter((e): e is [string, string] => e[1] !== undefined),
    ),
    param: (name) => event.pathParameters?.[name] ?? "",
    header: (name) => event.headers?.[name.toLowerCase()],
    queries: event.queryStringParameters ?? {},
    body() {
      if (parsed) return parsed.value;
      const raw = event.body ?? "";
      const text = event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
      if (Buffer.byteLength(text, "utf8") > MAX_BODY_BYTES) throw new PayloadTooLargeError("body too large");
      try {
        parsed = { value: JSON.parse(text) };
      } catch {
        throw new MalformedRequestError("body is not JSON");
      }
      return parsed.value;
    },
    meta: { sourceIp: event.requestContext.http.sourceIp, requestId: context.awsRequestId },
  };
}

/** Maps every error to the Astarte error body, last in the chain, and counts it by cause. */
function astarteErrors(): MiddlewareObj<Event, Result> {
  return {
    onError: async (request) => {
      const code = errorCode(request.error);
      const response = errorResponse(request.error, request.context.awsRequestId);
      if (response.statusCode && response.statusCode >= 500) {
        logger.error("request failed", { code, error: request.error as Error });
      } else {
        // Client mistakes are expected traffic: the cause is enough, never the request's content.
        logger.info("request rejected", { code, status: response.statusCode });
      }
      metrics.addMetric(`Rejected_${code}`, MetricUnit.Count, 1);
      request.response = response;
    },
  };
}

/**
 * Builds a Lambda entry point for HTTP API (v2) requests: Powertools logger (request id, realm, device id)
 * and metrics, then `route`, with errors mapped last. Route handlers use {@link httpHandler}, which adds
 * authorization and input parsing from the route table; this is for what no route names (the 404).
 */
export function httpEntry(route: (request: HttpRequest) => Promise<RouteResult>) {
  return middy<Event, Result>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(astarteErrors())
    .handler(async (event, context) => {
      const realm = event.pathParameters?.realm;
      const deviceId = event.pathParameters?.device_id;
      logger.appendKeys({ realm, deviceId });
      const { response, outcome } = await route(toRequest(event, context));
      metrics.addMetric(outcome, MetricUnit.Count, 1);
      return response;
    });
}

type Contract<N extends RouteName> = (typeof ROUTES)[N];
type Schema<N extends RouteName, K extends string> =
  Contract<N> extends { readonly [P in K]: infer S } ? (S extends z.ZodMiniType ? S : never) : never;

/** A route's validated body `data` (Astarte's envelope unwrapped); `never` for routes without a body. */
export type InputOf<N extends RouteName> =
  z.output<Schema<N, "request">> extends { data: infer D } ? D : never;
/** A route's validated query; `never` for routes without one. */
export type QueryOf<N extends RouteName> = z.output<Schema<N, "query">>;

/** Who called, as the route table's `auth` says to establish it. */
export type PrincipalOf<N extends RouteName> = Contract<N>["auth"] extends "a_pa" | "a_aea"
  ? Contract<N>["path"] extends `${string}{device_id}${string}`
    ? RealmDevice
    : { readonly realm: Realm }
  : Contract<N>["auth"] extends "secret"
    ? DeviceCredentials
    : undefined;

/** What a route's handler sees: the caller, already authorized (agents) or identified (devices), and typed input. */
export interface RouteRequest<N extends RouteName> {
  readonly principal: PrincipalOf<N>;
  param(name: string): string;
  /**
   * The body's `data`, validated against the route's contract: 400 if it is not JSON or has no `data` object,
   * 413 if too large, 422 per field. Parsed when first called, so a use-case answers a bad body where its API
   * documents it (after the caller's credentials).
   */
  input(): InputOf<N>;
  /** The query string, validated against the route's contract (422 per bad parameter). */
  query(): QueryOf<N>;
  readonly meta: RequestMeta;
}

export interface HandlerOptions {
  /** What authorizing an agent route reads (its realm and device, the clock); required by agent routes. */
  readonly authDeps?: () => AgentAuthDeps;
}

const placeholders = (route: RouteContract) => [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

/**
 * Builds the Lambda entry point of one or more routes of the contract (one function may serve several, told
 * apart by method and path parameters). Each route is authorized as the table declares before its handler
 * runs: a realm JWT's grants are matched against the route's real method and path, a device route gets the
 * credentials it presented. Handlers stay wiring: typed input in, a use-case's domain value out.
 */
export function httpHandler<N extends RouteName>(
  routes: { readonly [K in N]: (request: RouteRequest<K>) => Promise<RouteResult> },
  options: HandlerOptions = {},
) {
  const table = (Object.keys(routes) as N[]).map((name) => {
    const route: RouteContract = ROUTES[name];
    if ((route.auth === "a_pa" || route.auth === "a_aea") && !options.authDeps) {
      throw new Error(`route ${name} is authorized by a realm JWT: pass authDeps`);
    }
    return { name, route, params: placeholders(route).join(",") };
  });
  return httpEntry(async (request) => {
    const present = Object.keys(request.params).sort().join(",");
    const entry = table.find((t) => t.route.method === request.method && t.params === present);
    if (!entry) throw new Error(`no route for ${request.method} with parameters ${present}`);
    const { name, route } = entry;
    const auth = { route, param: request.param, authorization: request.header("authorization") };
    let principal: unknown;
    if (route.auth === "a_pa" || route.auth === "a_aea") {
      principal = await authorizeAgent((options.authDeps as () => AgentAuthDeps)(), auth);
    } else if (route.auth === "secret") {
      principal = deviceCredentials(auth);
    }
    const requestSchema = (route as { request?: z.ZodMiniType }).request;
    const querySchema = (route as { query?: z.ZodMiniType }).query;
    const handle = routes[name] as (request: RouteRequest<N>) => Promise<RouteResult>;
    return handle({
      principal: principal as PrincipalOf<N>,
      param: request.param,
      input: () => {
        if (!requestSchema) throw new Error(`route ${name} takes no body`);
        return (parseEnvelope(requestSchema, request.body()) as { data: InputOf<N> }).data;
      },
      query: () => {
        if (!querySchema) throw new Error(`route ${name} takes no query`);
        return parseQuery(querySchema, request.queries) as QueryOf<N>;
      },
      meta: request.meta,
    });
  });
}
