import type { DepsOf } from "../pairing-deps.ts";
import type { DeviceRegistry, RealmStore } from "../ports/device-store.ts";
import { newCredentialsSecret } from "../secrets.ts";
import type { RealmDevice } from "./authenticate.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry;

/**
 * Tether extension: gives a registered device a new credentials secret without unregistering it (its
 * certificates and confirmation stay). The old secret stops working at once.
 */
export async function rotateSecret(
  deps: DepsOf<Store, "clock" | "hasher">,
  { realm, device }: RealmDevice,
): Promise<{ deviceId: string; credentialsSecret: string }> {
  const { deviceId } = device;
  const credentialsSecret = newCredentialsSecret();
  await deps.store.setSecretHash(
    realm.name,
    deviceId,
    await deps.hasher.hash(credentialsSecret),
    deps.clock.now().toISOString(),
  );
  return { deviceId, credentialsSecret };
}
