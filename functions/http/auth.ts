import { createPublicKey, type KeyObject } from "node:crypto";
import { jwtVerify } from "jose";
import { canonicalDeviceId } from "../contracts/ids.ts";
import {
  BearerMissingError,
  ClaimMissingError,
  DeviceNotFoundError,
  TokenInvalidError,
  UnknownRealmError,
} from "../core/errors.ts";
import type { Device, Realm } from "../core/model.ts";
import type { DepsOf } from "../core/pairing-deps.ts";
import type { DeviceRegistry, RealmStore } from "../core/ports/device-store.ts";
import { algorithmsFor } from "../core/realm-key.ts";
import { loadRealmAndDevice } from "../core/use-cases/authenticate.ts";
import { type AuthRequest, bearerToken } from "./bearer.ts";

/** What an agent (operator) route's handler gets once its JWT authorized it: the realm, and the device it names. */
export interface AgentPrincipal {
  readonly realm: Realm;
  /** Set on routes with a `{device_id}`: the device, which exists (else the route answered 404). */
  readonly device: Device | undefined;
}

export type AgentAuthDeps = DepsOf<RealmStore & DeviceRegistry, "clock">;

/**
 * The authorizer of agent routes for {@link httpHandler}'s `authorizeAgent` option. It lives apart from the
 * handler chain so functions that serve only device routes carry no JWT library.
 */
export const agentAuthorizer =
  (deps: () => AgentAuthDeps) =>
  (request: AuthRequest): Promise<AgentPrincipal> =>
    authorizeAgent(deps(), request);

/**
 * Authorizes an agent or AppEngine route the way Astarte's web layer does: no token → 401 (whatever the realm,
 * so its existence is not revealed to anonymous callers); unknown realm → 403; a token that does not verify
 * against the realm's key → 401; no grant of the route's claim matching the route's method and path → 403;
 * then, on a device route, an unknown or ill-formed device → 404. Realm and device are read in one round trip.
 */
export async function authorizeAgent(deps: AgentAuthDeps, request: AuthRequest): Promise<AgentPrincipal> {
  const { route } = request;
  if (route.auth !== "a_pa" && route.auth !== "a_aea") throw new Error(`${route.path} is not an agent route`);
  const token = bearerToken(request.authorization);
  if (!token) throw new BearerMissingError("jwt");
  const namesDevice = route.path.includes("{device_id}");
  const { realm, device } = await loadRealmAndDevice(
    deps,
    request.param("realm"),
    namesDevice ? request.param("device_id") : undefined,
  );
  if (!realm) throw new UnknownRealmError();
  const path = grantPath(route.path, request.param);
  await verifyGrant(token, realm.jwtPublicKeyPem, route.auth, route.method, path, deps.clock.now());
  if (namesDevice && !device) throw new DeviceNotFoundError();
  return { realm, device };
}

/**
 * The path JWT grants are matched against: what follows `/v1/<realm>/` in the route, with the device id in its
 * canonical form whatever form the request spelt it in (an extended id names the same device, so a grant
 * excluding that device must still exclude it). Text that is no device id is matched as it is.
 */
export function grantPath(template: string, param: (name: string) => string): string {
  const filled = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = param(name);
    return name === "device_id" ? (canonicalDeviceId(value) ?? value) : value;
  });
  return filled.replace(/^\/v1\/[^/]*\//, "");
}

interface VerificationKey {
  readonly key: KeyObject;
  /** The only algorithms this key can verify: a header naming another one is refused before any crypto. */
  readonly algorithms: readonly string[];
}

const keyCache = new Map<string, VerificationKey>();

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
 * Verifies an agent JWT against the realm's key and its grants against a method and path, as Astarte does: the
 * claim holds `"<METHOD_REGEX>:<opts>:<PATH_REGEX>"` entries; any entry whose anchored regexes match both
 * authorizes. `exp` is enforced when present.
 */
export async function verifyGrant(
  token: string,
  realmPublicKeyPem: string,
  claim: "a_pa" | "a_aea",
  method: string,
  path: string,
  now: Date,
): Promise<void> {
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
    Array.isArray(grants) && grants.some((g) => typeof g === "string" && grantAllows(g, method, path));
  if (!allowed) throw new ClaimMissingError(method, path);
}

function grantAllows(grant: string, method: string, path: string): boolean {
  const first = grant.indexOf(":");
  const second = grant.indexOf(":", first + 1);
  if (first < 0 || second < 0) return false;
  return anchoredMatch(grant.slice(0, first), method) && anchoredMatch(grant.slice(second + 1), path);
}

function anchoredMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    return false;
  }
}
