import { canonicalDeviceId } from "../../contracts/ids.ts";
import type { RegisterDeviceRequest } from "../../contracts/pairing.ts";
import { ValidationError } from "../errors.ts";
import type { Realm } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { DeviceRegistry, RealmStore } from "../ports/device-store.ts";
import { newCredentialsSecret } from "../secrets.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry;

export interface RegisterDeviceResult {
  readonly deviceId: string;
  readonly credentialsSecret: string;
  readonly outcome: "created" | "renewed";
}

/**
 * Registers a device and returns its credentials secret, shown once; only its keyed hash is stored. A device
 * that never obtained a certificate may be registered again (new secret, inhibition cleared); a confirmed
 * one may not. The device's IoT thing is created after the record (a refused registration leaves no thing) and
 * tagged with its realm, so a realm purge finds every thing of the realm.
 */
export async function registerDevice(
  deps: DepsOf<Store, "clock" | "hasher" | "transport">,
  realm: Realm,
  data: RegisterDeviceRequest["data"],
): Promise<RegisterDeviceResult> {
  const deviceId = canonicalDeviceId(data.hw_id);
  if (!deviceId) throw new ValidationError({ hw_id: ["is not a valid base64 encoded 128 bits id"] });

  const credentialsSecret = newCredentialsSecret();
  const secretHash = await deps.hasher.hash(credentialsSecret);
  const outcome = await deps.store.registerDevice({
    realm,
    deviceId,
    secretHash,
    introspection: data.initial_introspection,
    now: deps.clock.now().toISOString(),
  });
  try {
    await deps.transport.ensureThing(realm.name, deviceId);
  } catch (error) {
    // No device without its thing: a device this request created goes again (nobody holds its secret yet).
    // A renewed one keeps its record; its thing was made when it was created, and the retry makes sure of it.
    if (outcome === "created") {
      await deps.store.discardNewDevice(realm.name, deviceId, secretHash).catch((cleanup: unknown) => {
        throw new AggregateError([error, cleanup], "registration failed and so did discarding the device");
      });
    }
    throw error;
  }
  return { deviceId, credentialsSecret, outcome };
}
