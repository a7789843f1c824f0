import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The boundaries DESIGN.md and STYLE.md draw, checked on the source itself.
const ROOT = resolve(import.meta.dirname, "..", "..");
const FUNCTIONS = join(ROOT, "functions");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

const importsOf = (path: string) =>
  [...readFileSync(path, "utf8").matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map(
    (m) => m[1] ?? "",
  );

describe("architecture", () => {
  it("keeps the domain core free of HTTP, adapters and AWS SDKs", () => {
    const offenders = sources(join(FUNCTIONS, "core")).flatMap((path) =>
      importsOf(path)
        .filter(
          (spec) => /(^|\/)(http|adapters|handlers)\//.test(spec) || /^@aws-sdk\/|^@smithy\//.test(spec),
        )
        .map((spec) => `${relative(ROOT, path)} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it("keeps every file under functions/ within 400 lines", () => {
    const long = sources(FUNCTIONS)
      .map((path) => ({ path: relative(ROOT, path), lines: readFileSync(path, "utf8").split("\n").length }))
      .filter((file) => file.lines > 400);
    expect(long).toEqual([]);
  });
});
