import { canonicalDeviceId, realmNameSchema } from "../../contracts/ids.ts";
import { type AuthorizationClaim, authorizeAgent, bearerToken } from "../agent-auth.ts";
import { DeviceNotFoundError, ForbiddenError, UnauthenticatedError } from "../errors.ts";
import type { Device, Realm } from "../model.ts";
import type { PairingDeps } from "../pairing-deps.ts";

/** Realm lookup for realm-scoped routes: an unknown (or ill-formed) realm is 403, never "not found". */
export async function requireRealm(deps: Pick<PairingDeps, "store">, realmName: string): Promise<Realm> {
  const realm = realmNameSchema.safeParse(realmName).success
    ? await deps.store.getRealm(realmName)
    : undefined;
  if (!realm) throw new ForbiddenError();
  return realm;
}

export interface AgentCall {
  readonly realmName: string;
  readonly authorization: string | undefined;
  readonly method: string;
  /** What follows `/v1/<realm>/`. */
  readonly path: string;
  readonly claim: AuthorizationClaim;
}

/** Authorizes an agent or AppEngine call and returns its realm. */
export async function authorizeRealmCall(
  deps: Pick<PairingDeps, "store" | "clock">,
  call: AgentCall,
): Promise<Realm> {
  // A missing token is 401 whatever the realm, so the realm's existence is not revealed to anonymous callers.
  if (!bearerToken(call.authorization)) throw new UnauthenticatedError("Missing authorization token");
  const realm = await requireRealm(deps, call.realmName);
  await authorizeAgent(call, realm.jwtPublicKeyPem, call.claim, deps.clock.now());
  return realm;
}

/**
 * Realm and device in one read. An ill-formed realm names no realm; an ill-formed device id names no device
 * (then only the realm is read, so the caller can still answer 404 in a realm that exists).
 */
async function loadRealmAndDevice(
  deps: Pick<PairingDeps, "store">,
  realmName: string,
  deviceIdText: string,
): Promise<{ realm?: Realm | undefined; device?: Device | undefined }> {
  if (!realmNameSchema.safeParse(realmName).success) return {};
  const deviceId = canonicalDeviceId(deviceIdText);
  if (deviceId) return deps.store.getRealmAndDevice(realmName, deviceId);
  return { realm: await deps.store.getRealm(realmName) };
}

/**
 * Authorizes an agent or AppEngine call about one device and loads realm and device in a single read:
 * no token → 401, unknown realm → 403, token refused → 401/403, unknown or ill-formed device → 404.
 */
export async function authorizeDeviceCall(
  deps: Pick<PairingDeps, "store" | "clock">,
  call: AgentCall,
  deviceIdText: string,
): Promise<{ realm: Realm; device: Device }> {
  if (!bearerToken(call.authorization)) throw new UnauthenticatedError("Missing authorization token");
  const { realm, device } = await loadRealmAndDevice(deps, call.realmName, deviceIdText);
  if (!realm) throw new ForbiddenError();
  await authorizeAgent(call, realm.jwtPublicKeyPem, call.claim, deps.clock.now());
  if (!device) throw new DeviceNotFoundError();
  return { realm, device };
}

export interface DeviceCall {
  readonly realmName: string;
  readonly deviceIdText: string;
  readonly authorization: string | undefined;
}

/**
 * Authenticates a device by its credentials secret: no bearer → 401, unknown realm → 403, unknown device →
 * 404, wrong secret → 403. The secret is hashed and compared in constant time in every case, so an unknown
 * device and a wrong secret cost the same.
 */
export async function authenticateDevice(
  deps: Pick<PairingDeps, "store" | "hasher">,
  call: DeviceCall,
): Promise<{ realm: Realm; device: Device }> {
  const secret = bearerToken(call.authorization);
  if (!secret) throw new UnauthenticatedError("Unauthorized");
  const { realm, device } = await loadRealmAndDevice(deps, call.realmName, call.deviceIdText);
  const matches = await deps.hasher.matches(secret, device?.secretHash);
  if (!realm) throw new ForbiddenError();
  if (!device) throw new DeviceNotFoundError();
  if (!matches) throw new ForbiddenError();
  return { realm, device };
}

/**
 * The device id as JWT grants see it in a route's path: its canonical form, whatever form the request spelt
 * it in (an extended id names the same device, so a grant excluding that device must still exclude it). Text
 * that is no device id is matched as it is (the route then answers 404 once authorized).
 */
export function grantId(deviceIdText: string): string {
  return canonicalDeviceId(deviceIdText) ?? deviceIdText;
}

/** Parses the device id of an agent route: ill-formed ids name no device. */
export function requireDeviceId(text: string): string {
  const deviceId = canonicalDeviceId(text);
  if (!deviceId) throw new DeviceNotFoundError();
  return deviceId;
}
