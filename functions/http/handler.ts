import type * as z from "zod/mini";
import { ROUTES, type RouteContract, type RouteName } from "../contracts/routes.ts";
import type { Realm } from "../core/model.ts";
import type { RequestMeta } from "../core/pairing-deps.ts";
import type { DeviceCredentials, RealmDevice } from "../core/use-cases/authenticate.ts";
import type { AgentPrincipal } from "./auth.ts";
import { type AuthRequest, deviceCredentials } from "./bearer.ts";
import { httpEntry, type RouteResult } from "./entry.ts";
import { parseEnvelope, parseQuery } from "./validation.ts";

export type { RouteResult } from "./entry.ts";

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
  /** Authorizes agent routes (`agentAuthorizer` in http/auth.ts); required by functions that serve them. */
  readonly authorizeAgent?: (request: AuthRequest) => Promise<AgentPrincipal>;
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
    if ((route.auth === "a_pa" || route.auth === "a_aea") && !options.authorizeAgent) {
      throw new Error(`route ${name} is authorized by a realm JWT: pass authorizeAgent`);
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
      principal = await (options.authorizeAgent as NonNullable<HandlerOptions["authorizeAgent"]>)(auth);
    } else if (route.auth === "secret") {
      principal = deviceCredentials(auth);
    }
    const requestSchema = (route as { request?: z.ZodMiniType }).request;
    const querySchema = (route as { query?: z.ZodMiniType }).query;
    const handle = routes[name] as (request: RouteRequest<N>) => Promise<RouteResult>;
    let input: { data: InputOf<N> } | undefined;
    return handle({
      principal: principal as PrincipalOf<N>,
      param: request.param,
      input: () => {
        if (!requestSchema) throw new Error(`route ${name} takes no body`);
        input ??= parseEnvelope(requestSchema, request.body()) as { data: InputOf<N> };
        return input.data;
      },
      query: () => {
        if (!querySchema) throw new Error(`route ${name} takes no query`);
        return parseQuery(querySchema, request.queries) as QueryOf<N>;
      },
      meta: request.meta,
    });
  });
}
