import { baseDeps } from "../adapters/container.ts";
import { httpHandler } from "../http/handler.ts";
import { openApiDocument } from "../http/openapi.ts";
import { json } from "../http/responses.ts";

let document: Record<string, unknown> | undefined;

/** `GET /openapi.json`: the OpenAPI 3.1 document of every route, generated from the zod contracts. */
export const handler = httpHandler({
  openApi: async () => {
    document ??= openApiDocument(baseDeps().settings.serviceVersion);
    return { response: json(200, document), outcome: "OpenApiServed" };
  },
});
