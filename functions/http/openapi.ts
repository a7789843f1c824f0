import * as z from "zod/mini";
import { errorBody } from "../contracts/pairing.ts";
import { ROUTES as CONTRACT, type RouteContract } from "../contracts/routes.ts";
import { ROUTES } from "./routes.ts";

/** The OpenAPI security scheme of each kind of route auth. */
const SECURITY = {
  a_pa: "agent",
  a_aea: "appengine",
  secret: "secret",
  iam: "iam",
  none: undefined,
} as const;

const schema = (s: z.ZodMiniType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });

/** The OpenAPI 3.1 document of every route, generated from the zod contracts. */
export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const op: RouteContract = CONTRACT[route.name];
    const security = SECURITY[op.auth];
    const path = `/${route.api}${route.path}`;
    const query = op.query ? (schema(op.query) as { properties?: Record<string, unknown> }) : undefined;
    const parameters = [
      ...[...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: "path",
        required: true,
        schema: { type: "string" },
      })),
      ...Object.entries(query?.properties ?? {}).map(([name, property]) => ({
        name,
        in: "query",
        required: false,
        schema: property,
      })),
    ];
    paths[path] ??= {};
    (paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = {
      operationId: `${route.handler}-${route.method.toLowerCase()}`.replace(/-(\w)/g, (_, c: string) =>
        c.toUpperCase(),
      ),
      summary: op.summary,
      tags: [route.api],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(security ? { security: [{ [security]: [] }] } : { security: [] }),
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
