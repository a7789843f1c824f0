import { readFile } from "node:fs/promises";
import { Sha256 } from "@aws-crypto/sha256-js";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { importPKCS8, SignJWT } from "jose";
import { ApiClient, ApiError, type CallInput } from "../functions/contracts/client.ts";
import type { ResponseBody, RouteName } from "../functions/contracts/routes.ts";
import { CliError, EXIT } from "./errors.ts";
import type { Target } from "./target.ts";

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

/**
 * One API call through the typed client of the contract, authorized the way the route wants (a freshly minted
 * realm JWT for agent routes, SigV4 or the local admin token for housekeeping); non-2xx answers become CliErrors
 * with the body.
 */
export async function call<N extends RouteName>(
  target: Target,
  name: N,
  input: CallInput<N>,
): Promise<{ readonly status: number; readonly body: ResponseBody<N> }> {
  const client = new ApiClient({
    baseUrl: (api) =>
      api === "pairing"
        ? target.pairingUrl
        : api === "appengine"
          ? target.appengineUrl
          : target.housekeepingUrl,
    authorize: async ({ route, method, url, headers, body }) => {
      if (route.auth === "a_pa" || route.auth === "a_aea") {
        if (!target.realmKeyPath)
          throw new CliError("no realm key: pass --realm-key or set TETHER_REALM_KEY", EXIT.config);
        const claims = route.auth === "a_pa" ? "pairing" : "appengine";
        return { authorization: `Bearer ${await mintJwt(target.realmKeyPath, claims, 300)}` };
      }
      if (route.auth === "iam") {
        if (target.adminToken) return { authorization: `Bearer ${target.adminToken}` };
        return sigV4(method, url, headers, body);
      }
      return {};
    },
  });
  try {
    return await client.call(name, input);
  } catch (error) {
    if (error instanceof ApiError) {
      const detail = describeErrors(error.body) ?? `${error.status}`;
      throw new CliError(
        detail,
        error.status >= 500 || error.status === 429 ? EXIT.unavailable : EXIT.rejected,
        error.body,
      );
    }
    if (error instanceof CliError) throw error;
    const origin = new URL(client.url(name, input)).origin;
    throw new CliError(`cannot reach ${origin}: ${(error as Error).message}`, EXIT.unavailable);
  }
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
