import { describe, expect, it } from "vitest";
import { openApiDocument } from "../../functions/http/openapi.ts";
import { ROUTES } from "../../functions/http/routes.ts";

describe("the OpenAPI document", () => {
  const doc = openApiDocument("1.2.3") as {
    openapi: string;
    paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>;
  };

  it("is OpenAPI 3.1 and has exactly the routes the API serves", () => {
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const served = ROUTES.map((r) => `${r.method} /${r.api}${r.path}`);
    expect(documented.sort()).toEqual(served.sort());
  });

  it("describes bodies from the zod contracts", () => {
    const register = doc.paths["/pairing/v1/{realm}/agent/devices"]?.post;
    expect(JSON.stringify(register?.requestBody)).toContain("hw_id");
    expect(JSON.stringify(register?.responses["201"])).toContain("credentials_secret");
    const verify =
      doc.paths["/pairing/v1/{realm}/devices/{device_id}/protocols/{protocol}/credentials/verify"]?.post;
    expect(JSON.stringify(verify?.responses["200"])).toContain("NAME_NOT_PERMITTED");
  });
});
