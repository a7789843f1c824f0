import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { literalSchemaKeys } from "../../infra/bundling.ts";

describe("literalSchemaKeys (the bundler's rewrite of AWS SDK schema modules)", () => {
  it("turns computed keys naming module string constants into literal keys, and nothing else", () => {
    const source = [
      'const _h = "http";',
      'const _q = "quo\\"ted";',
      "let _l = 1;",
      'export var A$ = [9, n0, _A, { [_h]: ["PUT", "/a", 200] }, () => B$];',
      "export var B$ = [3, n0, _B, { [_e]: _c, [_q]: 1 }, [_m], [0]];",
      "export var C$ = [3, n0, _C, { [_l]: 2, [other]: 3 }];",
    ].join("\n");
    const { code, replaced } = literalSchemaKeys(source);
    expect(replaced).toBe(2);
    expect(code).toContain('{ "http": ["PUT", "/a", 200] }');
    expect(code).toContain('{ [_e]: _c, "quo\\"ted": 1 }');
    expect(code).toContain("{ [_l]: 2, [other]: 3 }");
  });

  it("gives an equal object: the rewrite changes how the key is written, not what it is", () => {
    const source = 'const _h = "http";\nconst _e = "error";\nreturn [{ [_h]: ["GET", "/x", 200], [_e]: 1 }];';
    const before = new Function(source)();
    const after = new Function(literalSchemaKeys(source).code)();
    expect(after).toEqual(before);
  });

  it("finds the HTTP traits in the IoT client's real schema module", async () => {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve("@aws-sdk/client-iot/package.json"));
    const source = await readFile(join(root, "dist-es/schemas/schemas_0.js"), "utf8");
    const { code, replaced } = literalSchemaKeys(source);
    expect(replaced).toBeGreaterThan(100);
    const constants = new Set([...source.matchAll(/^const (_\w+) = "/gm)].map((m) => m[1]));
    const left = [...code.matchAll(/[{,]\s*\[(_\w+)\]:/g)].filter((m) => constants.has(m[1]));
    expect(left).toEqual([]);
  });
});
