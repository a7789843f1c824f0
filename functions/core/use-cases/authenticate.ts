import { canonicalDeviceId, realmNameSchema } from "../../contracts/ids.ts";
import { type AuthorizationClaim, authorizeAgent, bearerToken } from "../agent-auth.ts";
import { BearerMissingError, DeviceNotFoundError, UnknownRealmError, WrongSecretError } from "../errors.ts";
import type { Device, Realm } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";

import type { DeviceRegistry, IssuanceSlot, RealmStore } from "../ports/device-store.ts";

/** Realm and device reads: what every authenticated call needs from the store. */
type Store = RealmStore & DeviceRegistry;

/** Realm lookup for realm-scoped routes: an unknown (or ill-formed) realm is 403, never "not found". */
export async function requireRealm(deps: DepsOf<RealmStore>, realmName: string): Promise<Realm> {
  const realm = realmNameSchema.safeParse(realmName).success
    ? await deps.store.getRealm(realmName)
    : undefined;
  if (!realm) throw new UnknownRealmError();
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
export async function authorizeRealmCall(deps: DepsOf<RealmStore, "clock">, call: AgentCall): Promise<Realm> {
  // A missing token is 401 whatever the realm, so the realm's existence is not revealed to anonymous callers.
  if (!bearerToken(call.authorization)) throw new BearerMissingError("jwt");
  const realm = await requireRealm(deps, call.realmName);
  await authorizeAgent(call, realm.jwtPublicKeyPem, call.claim, deps.clock.now());
  return realm;
}

/**
 * Realm and device in one read. An ill-formed realm names no realm; an ill-formed device id names no device
 * (then only the realm is read, so the caller can still answer 404 in a realm that exists).
 */
async function loadRealmAndDevice(
  deps: DepsOf<Store>,
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
  deps: DepsOf<Store, "clock">,
  call: AgentCall,
  deviceIdText: string,
): Promise<{ realm: Realm; device: Device }> {
  if (!bearerToken(call.authorization)) throw new BearerMissingError("jwt");
  const { realm, device } = await loadRealmAndDevice(deps, call.realmName, deviceIdText);
  if (!realm) throw new UnknownRealmError();
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
  deps: DepsOf<Store, "hasher">,
  call: DeviceCall,
): Promise<{ realm: Realm; device: Device }> {
  const secret = bearerToken(call.authorization);
  if (!secret) throw new BearerMissingError("secret");
  const { realm, device } = await loadRealmAndDevice(deps, call.realmName, call.deviceIdText);
  const matches = await deps.hasher.matches(secret, device?.secretHash);
  if (!realm) throw new UnknownRealmError();
  if (!device) throw new DeviceNotFoundError();
  if (!matches) throw new WrongSecretError();
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

/**
 * Authenticates a device and takes its one issuance slot in the same round trip (the realm is read alongside):
 * same answers as {@link authenticateDevice} for the caller's credentials, then inhibited → 403, another
 * issuance in flight → 429, the budget spent → 429. Only a request that proves the device's secret can take
 * or even probe the slot: the write is conditional on the secret's keyed hash, and the constant-time check
 * below decides what is answered.
 */
export async function admitIssuance(
  deps: DepsOf<RealmStore & IssuanceSlot, "hasher">,
  call: DeviceCall & { readonly deviceId: string },
  attempt: { readonly key: string; readonly now: number; readonly leaseUntil: number },
): Promise<{ realm: Realm; device: Device; acquired: boolean }> {
  const secret = bearerToken(call.authorization);
  if (!secret) throw new BearerMissingError("secret");
  const [realmRead, begunWrite] = await Promise.allSettled([
    deps.store.getRealm(call.realmName),
    deps.hasher.hash(secret).then((secretHash) =>
      deps.store.beginIssuance({
        realm: call.realmName,
        deviceId: call.deviceId,
        secretHash,
        key: attempt.key,
        now: attempt.now,
        leaseUntil: attempt.leaseUntil,
      }),
    ),
  ]);
  const release = async () => {
    if (begunWrite.status === "fulfilled" && begunWrite.value.acquired) {
      await deps.store.endIssuance({
        realm: call.realmName,
        deviceId: call.deviceId,
        lease: attempt.leaseUntil,
        charge: undefined,
      });
    }
  };
  if (realmRead.status === "rejected") {
    // The slot may have been taken although the realm could not be read: it goes back at once.
    await release();
    throw realmRead.reason;
  }
  if (begunWrite.status === "rejected") throw begunWrite.reason;
  const realm = realmRead.value;
  const begun = begunWrite.value;
  const { device } = begun;
  const matches = await deps.hasher.matches(secret, device?.secretHash);
  if (!realm || !device || !matches) {
    // Refused for its credentials: a slot taken (only possible with the right secret, in a deleted realm) goes back.
    await release();
    if (!realm) throw new UnknownRealmError();
    if (!device) throw new DeviceNotFoundError();
    throw new WrongSecretError();
  }
  return { realm, device, acquired: begun.acquired };
}

/** Parses the device id of an agent route: ill-formed ids name no device. */
export function requireDeviceId(text: string): string {
  const deviceId = canonicalDeviceId(text);
  if (!deviceId) throw new DeviceNotFoundError();
  return deviceId;
}
