import { createPublicKey, type KeyObject } from "node:crypto";
import { errors as joseErrors, jwtVerify } from "jose";
import { ForbiddenError, UnauthenticatedError } from "./errors.ts";

/** Asymmetric algorithms only: `none` and HMAC (which a public key could be abused to forge) are refused. */
const ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

/** The claim that authorizes a route: `a_pa` for Pairing's agent API, `a_aea` for AppEngine. */
export type AuthorizationClaim = "a_pa" | "a_aea";

export interface AgentRequest {
  readonly authorization: string | undefined;
  readonly method: string;
  /** What follows `/v1/<realm>/`, e.g. `agent/devices`. */
  readonly path: string;
}

const keyCache = new Map<string, KeyObject>();

function publicKey(pem: string): KeyObject {
  let key = keyCache.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    if (keyCache.size > 256) keyCache.clear();
    keyCache.set(pem, key);
  }
  return key;
}

/**
 * Authorizes an agent (operator) request the way Astarte does: a JWT signed by the realm's key whose claim
 * holds `"<METHOD_REGEX>:<opts>:<PATH_REGEX>"` entries; any entry whose anchored regexes match both the
 * method and the path authorizes. `exp` is enforced when present.
 */
export async function authorizeAgent(
  request: AgentRequest,
  realmPublicKeyPem: string,
  claim: AuthorizationClaim,
  now: Date,
): Promise<void> {
  const token = bearerToken(request.authorization);
  if (!token) throw new UnauthenticatedError("Missing authorization token");
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, publicKey(realmPublicKeyPem), {
      algorithms: ALGORITHMS,
      currentDate: now,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError || error instanceof TypeError || error instanceof SyntaxError) {
      throw new UnauthenticatedError("Invalid JWT token");
    }
    throw error;
  }
  const grants = payload[claim];
  const allowed =
    Array.isArray(grants) && grants.some((g) => typeof g === "string" && grantAllows(g, request));
  if (!allowed) {
    throw new ForbiddenError(
      `Unauthorized access to ${request.method} ${request.path}. Please verify your permissions`,
    );
  }
}

function grantAllows(grant: string, request: AgentRequest): boolean {
  const first = grant.indexOf(":");
  const second = grant.indexOf(":", first + 1);
  if (first < 0 || second < 0) return false;
  const methodPattern = grant.slice(0, first);
  const pathPattern = grant.slice(second + 1);
  return anchoredMatch(methodPattern, request.method) && anchoredMatch(pathPattern, request.path);
}

function anchoredMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    return false;
  }
}

/**
 * The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive and `Bearer:` with a
 * colon is accepted too (some Astarte SDKs send it).
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^bearer:?\s+(\S+)\s*$/i.exec(header.trim());
  return match?.[1];
}
