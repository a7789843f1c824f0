import * as z from "zod/mini";
import {
  credentialsRequest,
  credentialsResponse,
  deviceEventsResponse,
  deviceInfoResponse,
  deviceListQuery,
  deviceListResponse,
  devicePatchRequest,
  deviceStatusResponse,
  fleetOverviewResponse,
  registerDeviceRequest,
  registerDeviceResponse,
  verifyRequest,
  verifyResponse,
} from "./pairing.ts";
import { createRealmRequest, realmResponse, updateRealmRequest } from "./realms.ts";

/** The three APIs, each under its own base path (`/pairing`, `/appengine`, `/housekeeping`). */
export type Api = "pairing" | "appengine" | "housekeeping";

/**
 * Who may call a route: the device's credentials secret; a realm JWT whose claim (`a_pa` for Pairing's agent
 * API, `a_aea` for AppEngine) grants the route's method and path; IAM (API Gateway, SigV4; an admin token
 * locally); or anyone.
 */
export type RouteAuth = "secret" | "a_pa" | "a_aea" | "iam" | "none";

export interface RouteContract {
  readonly api: Api;
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Path relative to the API's base path, with `{param}` placeholders. */
  readonly path: string;
  readonly auth: RouteAuth;
  readonly summary: string;
  /** The success status. */
  readonly status: number;
  readonly request?: z.ZodMiniType;
  readonly query?: z.ZodMiniType;
  readonly response?: z.ZodMiniType;
}

const DEVICE = "/v1/{realm}/devices/{device_id}";
const CREDENTIALS = `${DEVICE}/protocols/{protocol}/credentials`;
const versionResponse = z.object({ data: z.string() });

/**
 * Every route Tether serves, written once: the server (handlers, the CDK stack, the local server, OpenAPI),
 * the device SDK, the CLI and the tests all take methods, paths, auth and bodies from here.
 */
export const ROUTES = {
  registerDevice: {
    api: "pairing",
    method: "POST",
    path: "/v1/{realm}/agent/devices",
    auth: "a_pa",
    summary: "Register a device; returns its credentials secret",
    status: 201,
    request: registerDeviceRequest,
    response: registerDeviceResponse,
  },
  unregisterDevice: {
    api: "pairing",
    method: "DELETE",
    path: "/v1/{realm}/agent/devices/{device_id}",
    auth: "a_pa",
    summary: "Unregister a device: its certificates leave IoT Core and its MQTT session ends",
    status: 204,
  },
  rotateSecret: {
    api: "pairing",
    method: "POST",
    path: "/v1/{realm}/agent/devices/{device_id}/credentials_secret",
    auth: "a_pa",
    summary: "Rotate a device's credentials secret (Tether extension)",
    status: 201,
    response: registerDeviceResponse,
  },
  deviceInfo: {
    api: "pairing",
    method: "GET",
    path: DEVICE,
    auth: "secret",
    summary: "Device info: status and broker URL",
    status: 200,
    response: deviceInfoResponse,
  },
  credentials: {
    api: "pairing",
    method: "POST",
    path: CREDENTIALS,
    auth: "secret",
    summary:
      "Trade a CSR for a short-lived client certificate registered in IoT Core (with renew_after, a Tether extension)",
    status: 201,
    request: credentialsRequest,
    response: credentialsResponse,
  },
  verify: {
    api: "pairing",
    method: "POST",
    path: `${CREDENTIALS}/verify`,
    auth: "secret",
    summary: "Is this certificate still valid for this device, and until when?",
    status: 200,
    request: verifyRequest,
    response: verifyResponse,
  },
  health: {
    api: "pairing",
    method: "GET",
    path: "/health",
    auth: "none",
    summary: "Service health",
    status: 200,
  },
  realmHealth: {
    api: "pairing",
    method: "GET",
    path: "/v1/{realm}/health",
    auth: "none",
    summary: "Realm health",
    status: 200,
  },
  version: {
    api: "pairing",
    method: "GET",
    path: "/version",
    auth: "none",
    summary: "Service version",
    status: 200,
    response: versionResponse,
  },
  realmVersion: {
    api: "pairing",
    method: "GET",
    path: "/v1/{realm}/version",
    auth: "none",
    summary: "Service version",
    status: 200,
    response: versionResponse,
  },
  openApi: {
    api: "pairing",
    method: "GET",
    path: "/openapi.json",
    auth: "none",
    summary: "The OpenAPI 3.1 document of every route, generated from these contracts",
    status: 200,
  },
  listDevices: {
    api: "appengine",
    method: "GET",
    path: "/v1/{realm}/devices",
    auth: "a_aea",
    summary:
      "A page of the realm's devices, as Astarte AppEngine lists them (?details=false|true&limit=1..100&from_token=…; ids, or status objects with details=true; links.self and links.next). Tether's search (additive): status=pending|confirmed|inhibited, connected=true|false, id_prefix=…, expiring_before=<ISO 8601 time>, metadata_key=…&metadata_value=…, sort=device_id|last_seen|expiry; served: sort=device_id (the default) with status, id_prefix, both or neither; sort=last_seen with status, connected, both or neither; sort=expiry (devices with a current certificate, soonest first; the default with expiring_before) with status, expiring_before, both or neither; metadata_key=<a key the realm indexes>&metadata_value=… (exact, as text) sorted by device_id, with status or without; any other combination is refused with 422. A search's page may hold fewer devices than limit while links.next goes on.",
    status: 200,
    query: deviceListQuery,
    response: deviceListResponse,
  },
  deviceStatus: {
    api: "appengine",
    method: "GET",
    path: DEVICE,
    auth: "a_aea",
    summary: "Device status: credentials, presence, metadata and current certificate",
    status: 200,
    response: deviceStatusResponse,
  },
  patchDevice: {
    api: "appengine",
    method: "PATCH",
    path: DEVICE,
    auth: "a_aea",
    summary: "Inhibit or enable credentials (merge-patch; revoke_credentials is a Tether extension)",
    status: 200,
    request: devicePatchRequest,
    response: deviceStatusResponse,
  },
  deviceEvents: {
    api: "appengine",
    method: "GET",
    path: `${DEVICE}/events`,
    auth: "a_aea",
    summary: "The device's credential timeline",
    status: 200,
    response: deviceEventsResponse,
  },
  fleetOverview: {
    api: "appengine",
    method: "GET",
    path: "/v1/{realm}/overview",
    auth: "a_aea",
    summary:
      "Tether: the fleet at a glance — devices by status and presence, certificates expiring within 24 h or lapsed (counted at most every 5 minutes; counted_at says when), and hourly counts of issuances, renewals, refusals by cause and sweeps over the last 7 days",
    status: 200,
    response: fleetOverviewResponse,
  },
  createRealm: {
    api: "housekeeping",
    method: "POST",
    path: "/v1/realms",
    auth: "iam",
    summary: "Create a realm",
    status: 201,
    request: createRealmRequest,
    response: realmResponse,
  },
  listRealms: {
    api: "housekeeping",
    method: "GET",
    path: "/v1/realms",
    auth: "iam",
    summary: "List realms",
    status: 200,
    response: z.object({ data: z.array(z.string()) }),
  },
  getRealm: {
    api: "housekeeping",
    method: "GET",
    path: "/v1/realms/{realm}",
    auth: "iam",
    summary: "Show a realm",
    status: 200,
    response: realmResponse,
  },
  updateRealm: {
    api: "housekeeping",
    method: "PATCH",
    path: "/v1/realms/{realm}",
    auth: "iam",
    summary: "Change a realm (merge-patch): rotate its key, validity, grace, limit",
    status: 200,
    request: updateRealmRequest,
    response: realmResponse,
  },
  deleteRealm: {
    api: "housekeeping",
    method: "DELETE",
    path: "/v1/realms/{realm}",
    auth: "iam",
    summary: "Delete a realm: unknown to every API at once; the sweeper then purges its devices at its pace",
    status: 204,
  },
} as const satisfies Record<string, RouteContract>;

export type RouteName = keyof typeof ROUTES;

type Placeholders<P extends string> = P extends `${string}{${infer K}}${infer Rest}`
  ? K | Placeholders<Rest>
  : never;

/** The path parameters a route takes, by name. */
export type PathParams<N extends RouteName> = Readonly<
  Record<Placeholders<(typeof ROUTES)[N]["path"]>, string>
>;

type SchemaOf<N extends RouteName, K extends "request" | "response" | "query"> = (typeof ROUTES)[N] extends {
  readonly [P in K]: infer S;
}
  ? S extends z.ZodMiniType
    ? S
    : never
  : never;

/** A route's request body (its input form), or `undefined` for routes that take none. */
export type RequestBody<N extends RouteName> = [SchemaOf<N, "request">] extends [never]
  ? undefined
  : z.input<SchemaOf<N, "request">>;

/** A route's success body, or `undefined` for routes that answer none. */
export type ResponseBody<N extends RouteName> = [SchemaOf<N, "response">] extends [never]
  ? undefined
  : z.output<SchemaOf<N, "response">>;

/** A route's query string, as the caller may spell it. */
export type RouteQuery<N extends RouteName> = [SchemaOf<N, "query">] extends [never]
  ? undefined
  : { readonly [K in keyof z.input<SchemaOf<N, "query">>]?: string | undefined };

/**
 * The path of a route, relative to its API's base URL, with every parameter filled in (URL-encoded) and the
 * query (if any) appended. A missing parameter is a programming error and throws.
 */
export function routePath<N extends RouteName>(
  name: N,
  params: PathParams<N>,
  query?: Readonly<Record<string, string | undefined>>,
): string {
  const filled = ROUTES[name].path.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = (params as Readonly<Record<string, string | undefined>>)[key];
    if (value === undefined) throw new Error(`route ${name} needs the path parameter ${key}`);
    return encodeURIComponent(value);
  });
  const search = new URLSearchParams(
    Object.entries(query ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined),
  ).toString();
  return search ? `${filled}?${search}` : filled;
}
