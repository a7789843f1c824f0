import { canonicalDeviceId, realmNameSchema } from "../../contracts/ids.ts";
import { DeviceNotFoundError, UnknownRealmError, WrongSecretError } from "../errors.ts";
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

/**
 * Realm and device in one read. An ill-formed realm names no realm; an ill-formed device id names no device
 * (then only the realm is read, so the caller can still answer 404 in a realm that exists); without a device id
 * only the realm is read.
 */
export async function loadRealmAndDevice(
  deps: DepsOf<Store>,
  realmName: string,
  deviceIdText: string | undefined,
): Promise<{ realm?: Realm | undefined; device?: Device | undefined }> {
  if (!realmNameSchema.safeParse(realmName).success) return {};
  const deviceId = deviceIdText === undefined ? undefined : canonicalDeviceId(deviceIdText);
  if (deviceId) return deps.store.getRealmAndDevice(realmName, deviceId);
  return { realm: await deps.store.getRealm(realmName) };
}

/** A device and its realm, as a route about one device (authorized by a realm JWT) names them. */
export interface RealmDevice {
  readonly realm: Realm;
  readonly device: Device;
}

/** A device route's caller, as the edge read it: the realm and device it names, and the secret it presented. */
export interface DeviceCredentials {
  readonly realmName: string;
  readonly deviceIdText: string;
  readonly secret: string;
}

/**
 * Authenticates a device by its credentials secret: unknown realm → 403, unknown device →
 * 404, wrong secret → 403. The secret is hashed and compared in constant time in every case, so an unknown
 * device and a wrong secret cost the same.
 */
export async function authenticateDevice(
  deps: DepsOf<Store, "hasher">,
  call: DeviceCredentials,
): Promise<{ realm: Realm; device: Device }> {
  const { realm, device } = await loadRealmAndDevice(deps, call.realmName, call.deviceIdText);
  const matches = await deps.hasher.matches(call.secret, device?.secretHash);
  if (!realm) throw new UnknownRealmError();
  if (!device) throw new DeviceNotFoundError();
  if (!matches) throw new WrongSecretError();
  return { realm, device };
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
  call: DeviceCredentials & { readonly deviceId: string },
  attempt: { readonly key: string; readonly now: number; readonly leaseUntil: number },
): Promise<{ realm: Realm; device: Device; acquired: boolean }> {
  const { secret } = call;
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
