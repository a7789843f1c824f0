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
          (spec) =>
            /(^|\/)(http|adapters|handlers)\/|observability\.ts$/.test(spec) ||
            /^@aws-sdk\/|^@smithy\/|^@aws-lambda-powertools\//.test(spec),
        )
        .map((spec) => `${relative(ROOT, path)} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it("leaves the Authorization header, bearer parsing, JWTs and request bodies to the HTTP edge", () => {
    // The edge (functions/http) reads the header, verifies JWT grants against the route's real method and
    // path, and parses the envelope; the core gets a principal and typed input.
    const forbidden = [
      /\bauthorization\b/i,
      /\bbearer\b/i,
      /from\s+"jose"/,
      /\bjwtVerify\b/,
      /\bparseEnvelope\b/,
      /\bbody:\s*unknown\b/,
      // Views (snake_case, Astarte's timestamps, links) are the edge's: use-cases return domain values.
      /\b\w+Response\b/,
      /\bastarteTimestamp\b/,
    ];
    const offenders = sources(join(FUNCTIONS, "core")).flatMap((path) => {
      const code = readFileSync(path, "utf8")
        .split("\n")
        .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)); // prose may name them
      return forbidden
        .filter((pattern) => code.some((line) => pattern.test(line)))
        .map((pattern) => `${relative(ROOT, path)} matches ${pattern}`);
    });
    expect(offenders).toEqual([]);
  });

  it("writes each route's method and path once, in the contract", () => {
    // The SDK, the CLI, the dashboard's server and the handlers build paths from functions/contracts/routes.ts.
    const places = [
      join(ROOT, "sdk"),
      join(ROOT, "cli"),
      join(FUNCTIONS, "handlers"),
      join(FUNCTIONS, "core"),
    ];
    const offenders = places.flatMap((dir) =>
      sources(dir)
        .filter((path) =>
          readFileSync(path, "utf8")
            .split("\n")
            .some(
              (line) =>
                !/^\s*(\*|\/\/|\/\*)/.test(line) && /\/v1\/|\/agent\/devices|\/credentials\b/.test(line),
            ),
        )
        .map((path) => relative(ROOT, path)),
    );
    expect(offenders).toEqual([]);
  });

  it("keeps local/ off the CLI and the Lambda entry points", () => {
    // local/ wires Tether from values; only the API Gateway stand-in loads handlers, by name, as Lambda does.
    const offenders = sources(join(ROOT, "local")).flatMap((path) =>
      importsOf(path)
        .filter((spec) => /(^|\/)cli\/|functions\/handlers\//.test(spec))
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
