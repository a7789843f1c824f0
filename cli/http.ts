import { readFile } from "node:fs/promises";
import { Sha256 } from "@aws-crypto/sha256-js";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { importPKCS8, SignJWT } from "jose";
import { CliError, EXIT } from "./errors.ts";
import type { Target } from "./target.ts";

export interface ApiAnswer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON from the API, validated where it matters
  readonly body: any;
}

export type Auth =
  | { readonly kind: "agent"; readonly claims: "pairing" | "appengine" }
  | { readonly kind: "housekeeping" }
  | { readonly kind: "secret"; readonly secret: string };

/** Mints a short-lived realm JWT like `astartectl utils gen-jwt`. */
export async function mintJwt(
  keyPath: string,
  claims: "pairing" | "appengine" | "all",
  ttlSeconds: number,
): Promise<string> {
  const pem = await readFile(keyPath, "utf8").catch(() => {
    throw new CliError(`cannot read the realm key ${keyPath}`, EXIT.config);
  });
  const alg = pem.includes("RSA") ? "RS256" : "ES256";
  const key = await importPKCS8(pem, alg).catch(() => {
    throw new CliError(`${keyPath} is not a PKCS#8 private key`, EXIT.config);
  });
  const grants = {
    ...(claims !== "appengine" ? { a_pa: [".*::.*"] } : {}),
    ...(claims !== "pairing" ? { a_aea: [".*::.*"] } : {}),
  };
  return new SignJWT(grants)
    .setProtectedHeader({ alg })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .setSubject("tether-cli")
    .sign(key);
}

/** One API call, authorized the way its API wants; non-2xx answers become CliErrors with the body. */
export async function call(
  target: Target,
  method: string,
  url: string,
  auth: Auth,
  body?: unknown,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { accept: "application/json" };
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined)
    headers["content-type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
  if (auth.kind === "secret") headers.authorization = `Bearer ${auth.secret}`;
  if (auth.kind === "agent") {
    if (!target.realmKeyPath)
      throw new CliError("no realm key: pass --realm-key or set TETHER_REALM_KEY", EXIT.config);
    headers.authorization = `Bearer ${await mintJwt(target.realmKeyPath, auth.claims, 300)}`;
  }
  if (auth.kind === "housekeeping") {
    if (target.adminToken) headers.authorization = `Bearer ${target.adminToken}`;
    else Object.assign(headers, await sigV4(method, url, headers, payload));
  }
  let response: Response;
  try {
    response = await fetch(url, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
  } catch (error) {
    throw new CliError(`cannot reach ${new URL(url).origin}: ${(error as Error).message}`, EXIT.unavailable);
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) {
    const detail = describeErrors(parsed) ?? `${response.status} ${response.statusText}`;
    throw new CliError(
      detail,
      response.status >= 500 || response.status === 429 ? EXIT.unavailable : EXIT.rejected,
      parsed,
    );
  }
  return { status: response.status, body: parsed };
}

function describeErrors(body: unknown): string | undefined {
  const errors = (body as { errors?: Record<string, unknown> } | undefined)?.errors;
  if (!errors) return (body as { message?: string } | undefined)?.message;
  return Object.entries(errors)
    .map(([field, value]) => (field === "detail" ? String(value) : `${field}: ${[value].flat().join(", ")}`))
    .join("; ");
}

/** SigV4 for the IAM-protected housekeeping API on AWS (credentials from the standard chain). */
async function sigV4(method: string, url: string, headers: Record<string, string>, body: string | undefined) {
  const parsed = new URL(url);
  const region =
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION ??
    /execute-api\.([a-z0-9-]+)\./.exec(parsed.hostname)?.[1];
  if (!region) throw new CliError("set AWS_REGION to sign housekeeping requests", EXIT.config);
  const signer = new SignatureV4({
    service: "execute-api",
    region,
    credentials: defaultProvider(),
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method,
    protocol: parsed.protocol,
    hostname: parsed.hostname,
    path: parsed.pathname,
    query: Object.fromEntries(parsed.searchParams),
    headers: { ...headers, host: parsed.host },
    ...(body === undefined ? {} : { body }),
  });
  return signed.headers;
}
