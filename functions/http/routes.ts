/**
 * Every HTTP route Tether serves, and the Lambda entry point (file in functions/handlers) behind it. The CDK
 * stack and the local server are both built from this list, so they cannot disagree.
 */
export type Api = "pairing" | "appengine" | "housekeeping";

export interface Route {
  readonly api: Api;
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  /** API Gateway route path, relative to the API's base path. */
  readonly path: string;
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
  | "housekeeping-realms"
  | "openapi";

const DEVICE = "/v1/{realm}/devices/{device_id}";
const CREDENTIALS = `${DEVICE}/protocols/{protocol}/credentials`;

export const ROUTES: readonly Route[] = [
  { api: "pairing", method: "POST", path: "/v1/{realm}/agent/devices", handler: "agent-register" },
  {
    api: "pairing",
    method: "DELETE",
    path: "/v1/{realm}/agent/devices/{device_id}",
    handler: "agent-unregister",
  },
  {
    api: "pairing",
    method: "POST",
    path: "/v1/{realm}/agent/devices/{device_id}/credentials_secret",
    handler: "agent-rotate-secret",
  },
  { api: "pairing", method: "GET", path: DEVICE, handler: "device-info" },
  { api: "pairing", method: "POST", path: CREDENTIALS, handler: "device-credentials" },
  { api: "pairing", method: "POST", path: `${CREDENTIALS}/verify`, handler: "device-verify" },
  { api: "pairing", method: "GET", path: "/health", handler: "health" },
  { api: "pairing", method: "GET", path: "/v1/{realm}/health", handler: "health" },
  { api: "pairing", method: "GET", path: "/version", handler: "version" },
  { api: "pairing", method: "GET", path: "/v1/{realm}/version", handler: "version" },
  { api: "pairing", method: "GET", path: "/openapi.json", handler: "openapi" },
  { api: "appengine", method: "GET", path: "/v1/{realm}/devices", handler: "appengine-devices" },
  { api: "appengine", method: "GET", path: DEVICE, handler: "appengine-device" },
  { api: "appengine", method: "GET", path: `${DEVICE}/events`, handler: "appengine-device-events" },
  { api: "appengine", method: "PATCH", path: DEVICE, handler: "appengine-device" },
  { api: "housekeeping", method: "POST", path: "/v1/realms", handler: "housekeeping-realms" },
  { api: "housekeeping", method: "GET", path: "/v1/realms", handler: "housekeeping-realms" },
  { api: "housekeeping", method: "GET", path: "/v1/realms/{realm}", handler: "housekeeping-realms" },
  { api: "housekeeping", method: "PATCH", path: "/v1/realms/{realm}", handler: "housekeeping-realms" },
  { api: "housekeeping", method: "DELETE", path: "/v1/realms/{realm}", handler: "housekeeping-realms" },
];
