import { type Api, ROUTES as CONTRACT, type RouteAuth, type RouteName } from "../contracts/routes.ts";

export type { Api } from "../contracts/routes.ts";

/**
 * Every HTTP route Tether serves, and the Lambda entry point (file in functions/handlers) behind it. Methods,
 * paths and auth come from the contract (`functions/contracts/routes.ts`); the CDK stack and the local server
 * are both built from this list, so they cannot disagree.
 */
export interface Route {
  readonly name: RouteName;
  readonly api: Api;
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  /** API Gateway route path, relative to the API's base path. */
  readonly path: string;
  readonly auth: RouteAuth;
  readonly handler: HandlerName;
}

export type HandlerName =
  | "agent-register"
  | "agent-unregister"
  | "agent-rotate-secret"
  | "device-info"
  | "device-credentials"
  | "device-verify"
  | "health"
  | "version"
  | "appengine-device"
  | "appengine-devices"
  | "appengine-device-events"
  | "appengine-overview"
  | "housekeeping-realms"
  | "openapi";

/** The function that serves each route of the contract. */
const HANDLERS: Readonly<Record<RouteName, HandlerName>> = {
  registerDevice: "agent-register",
  unregisterDevice: "agent-unregister",
  rotateSecret: "agent-rotate-secret",
  deviceInfo: "device-info",
  credentials: "device-credentials",
  verify: "device-verify",
  health: "health",
  realmHealth: "health",
  version: "version",
  realmVersion: "version",
  openApi: "openapi",
  listDevices: "appengine-devices",
  deviceStatus: "appengine-device",
  patchDevice: "appengine-device",
  deviceEvents: "appengine-device-events",
  fleetOverview: "appengine-overview",
  createRealm: "housekeeping-realms",
  listRealms: "housekeeping-realms",
  getRealm: "housekeeping-realms",
  updateRealm: "housekeeping-realms",
  deleteRealm: "housekeeping-realms",
};

export const ROUTES: readonly Route[] = (Object.keys(CONTRACT) as RouteName[]).map((name) => {
  const { api, method, path, auth } = CONTRACT[name];
  return { name, api, method, path, auth, handler: HANDLERS[name] };
});
