import * as z from "zod/mini";
import {
  credentialsRequest,
  credentialsResponse,
  deviceEventsResponse,
  deviceInfoResponse,
  deviceListResponse,
  devicePatchRequest,
  deviceStatusResponse,
  errorBody,
  registerDeviceRequest,
  registerDeviceResponse,
  verifyRequest,
  verifyResponse,
} from "../contracts/pairing.ts";
import { createRealmRequest, realmResponse, updateRealmRequest } from "../contracts/realms.ts";
import { ROUTES, type Route } from "./routes.ts";

interface Operation {
  readonly summary: string;
  readonly request?: z.ZodMiniType;
  readonly status: number;
  readonly response?: z.ZodMiniType;
  readonly auth: "agent" | "appengine" | "secret" | "iam" | "none";
}

const secretResponse = registerDeviceResponse;

/** What each route takes and answers, from the same zod contracts the handlers validate with. */
const OPERATIONS: Record<string, Operation> = {
  "POST pairing /v1/{realm}/agent/devices": {
    summary: "Register a device; returns its credentials secret",
    request: registerDeviceRequest,
    status: 201,
    response: registerDeviceResponse,
    auth: "agent",
  },
  "DELETE pairing /v1/{realm}/agent/devices/{device_id}": {
    summary: "Unregister a device",
    status: 204,
    auth: "agent",
  },
  "POST pairing /v1/{realm}/agent/devices/{device_id}/credentials_secret": {
    summary: "Rotate a device's credentials secret (Tether extension)",
    status: 201,
    response: secretResponse,
    auth: "agent",
  },
  "GET pairing /v1/{realm}/devices/{device_id}": {
    summary: "Device info: status and broker URL",
    status: 200,
    response: deviceInfoResponse,
    auth: "secret",
  },
  "POST pairing /v1/{realm}/devices/{device_id}/protocols/{protocol}/credentials": {
    summary: "Trade a CSR for a short-lived client certificate",
    request: credentialsRequest,
    status: 201,
    response: credentialsResponse,
    auth: "secret",
  },
  "POST pairing /v1/{realm}/devices/{device_id}/protocols/{protocol}/credentials/verify": {
    summary: "Is this certificate still valid for this device, and until when?",
    request: verifyRequest,
    status: 200,
    response: verifyResponse,
    auth: "secret",
  },
  "GET pairing /health": { summary: "Service health", status: 200, auth: "none" },
  "GET pairing /v1/{realm}/health": { summary: "Realm health", status: 200, auth: "none" },
  "GET pairing /version": {
    summary: "Service version",
    status: 200,
    response: z.object({ data: z.string() }),
    auth: "none",
  },
  "GET pairing /v1/{realm}/version": {
    summary: "Service version",
    status: 200,
    response: z.object({ data: z.string() }),
    auth: "none",
  },
  "GET pairing /openapi.json": { summary: "This document", status: 200, auth: "none" },
  "GET appengine /v1/{realm}/devices": {
    summary:
      "A page of the realm's devices, as Astarte AppEngine lists them (?details=false|true&limit=1..100&from_token=…; ids, or status objects with details=true; links.self and links.next)",
    status: 200,
    response: deviceListResponse,
    auth: "appengine",
  },
  "GET appengine /v1/{realm}/devices/{device_id}": {
    summary: "Device status",
    status: 200,
    response: deviceStatusResponse,
    auth: "appengine",
  },
  "PATCH appengine /v1/{realm}/devices/{device_id}": {
    summary: "Inhibit or enable credentials (merge-patch; revoke_credentials is a Tether extension)",
    request: devicePatchRequest,
    status: 200,
    response: deviceStatusResponse,
    auth: "appengine",
  },
  "GET appengine /v1/{realm}/devices/{device_id}/events": {
    summary: "The device's credential timeline",
    status: 200,
    response: deviceEventsResponse,
    auth: "appengine",
  },
  "POST housekeeping /v1/realms": {
    summary: "Create a realm",
    request: createRealmRequest,
    status: 201,
    response: realmResponse,
    auth: "iam",
  },
  "GET housekeeping /v1/realms": {
    summary: "List realms",
    status: 200,
    response: z.object({ data: z.array(z.string()) }),
    auth: "iam",
  },
  "GET housekeeping /v1/realms/{realm}": {
    summary: "Show a realm",
    status: 200,
    response: realmResponse,
    auth: "iam",
  },
  "PATCH housekeeping /v1/realms/{realm}": {
    summary: "Change a realm (merge-patch): rotate its key, validity, grace, limit",
    request: updateRealmRequest,
    status: 200,
    response: realmResponse,
    auth: "iam",
  },
  "DELETE housekeeping /v1/realms/{realm}": {
    summary:
      "Delete a realm: unknown to every API at once; its devices are purged by the sweeper within minutes",
    status: 204,
    auth: "iam",
  },
};

export const operationKey = (route: Route) => `${route.method} ${route.api} ${route.path}`;

const schema = (s: z.ZodMiniType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });

/** The OpenAPI 3.1 document of every route, generated from the zod contracts. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const op = OPERATIONS[operationKey(route)];
    if (!op) throw new Error(`no OpenAPI operation for ${operationKey(route)}`);
    const path = `/${route.api}${route.path}`;
    const parameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = {
      operationId: `${route.handler}-${route.method.toLowerCase()}`.replace(/-(\w)/g, (_, c: string) =>
        c.toUpperCase(),
      ),
      summary: op.summary,
      tags: [route.api],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op.auth === "none" ? { security: [] } : { security: [{ [op.auth]: [] }] }),
      ...(op.request
        ? { requestBody: { required: true, content: { "application/json": { schema: schema(op.request) } } } }
        : {}),
      responses: {
        [op.status]: {
          description: op.summary,
          ...(op.response ? { content: { "application/json": { schema: schema(op.response) } } } : {}),
        },
        default: {
          description: "Astarte-style error body",
          content: { "application/json": { schema: schema(errorBody) } },
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Tether",
      version,
      description:
        "Pairing and short-lived credentials for AWS IoT Core, wire-compatible with Astarte Pairing API v1.",
    },
    paths,
    components: {
      securitySchemes: {
        agent: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "Realm JWT with a_pa" },
        appengine: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "Realm JWT with a_aea",
        },
        secret: { type: "http", scheme: "bearer", description: "The device's credentials secret" },
        iam: { type: "apiKey", in: "header", name: "Authorization", description: "AWS SigV4 (IAM)" },
      },
    },
  };
}
