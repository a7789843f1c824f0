import { createPublicKey, type KeyObject } from "node:crypto";
import { jwtVerify } from "jose";
import { BearerMissingError, ClaimMissingError, TokenInvalidError } from "./errors.ts";

const RSA_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const EC_ALGORITHMS: Readonly<Record<string, string>> = {
  prime256v1: "ES256",
  secp384r1: "ES384",
  secp521r1: "ES512",
};

/** The claim that authorizes a route: `a_pa` for Pairing's agent API, `a_aea` for AppEngine. */
export type AuthorizationClaim = "a_pa" | "a_aea";

export interface AgentRequest {
  readonly authorization: string | undefined;
  readonly method: string;
  /** What follows `/v1/<realm>/`, e.g. `agent/devices`. */
  readonly path: string;
}

interface VerificationKey {
  readonly key: KeyObject;
  /** The only algorithms this key can verify: a header naming another one is refused before any crypto. */
  readonly algorithms: readonly string[];
}

const keyCache = new Map<string, VerificationKey>();

/**
 * The JWS algorithms a public key verifies: ES256/384/512 for exactly its curve, RS256-512 and PS256-512 for RSA, PS256-512 for
 * RSA-PSS. `none` and HMAC (which a public key could be abused to forge) never are. Without this a header
 * naming another curve's algorithm reached WebCrypto, which throws a DataError (a 500) instead of refusing.
 */
export function algorithmsFor(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case "ec": {
      const alg = EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? ""];
      return alg ? [alg] : [];
    }
    case "rsa":
      return RSA_ALGORITHMS;
    case "rsa-pss":
      return RSA_ALGORITHMS.filter((alg) => alg.startsWith("PS"));
    default:
      return [];
  }
}

function verificationKey(pem: string): VerificationKey {
  let entry = keyCache.get(pem);
  if (!entry) {
    const key = createPublicKey(pem);
    entry = { key, algorithms: algorithmsFor(key) };
    if (keyCache.size > 256) keyCache.clear();
    keyCache.set(pem, entry);
  }
  return entry;
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
  if (!token) throw new BearerMissingError("jwt");
  const { key, algorithms } = verificationKey(realmPublicKeyPem);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, { algorithms: [...algorithms], currentDate: now }));
  } catch (error) {
    // Everything jwtVerify can throw is about the token (the key was parsed above): the caller's input.
    throw new TokenInvalidError({ cause: error });
  }
  const grants = payload[claim];
  const allowed =
    Array.isArray(grants) && grants.some((g) => typeof g === "string" && grantAllows(g, request));
  if (!allowed) {
    throw new ClaimMissingError(request.method, request.path);
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
