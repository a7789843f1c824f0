import { type DeviceRegistrationStatus, deviceStatusOf } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { DeviceRegistry, RealmStore } from "../ports/device-store.ts";
import { authenticateDevice, type DeviceCredentials } from "./authenticate.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry;

/** A device's view of itself: the service version, its registration status, and its MQTT broker. */
export interface DeviceInfo {
  readonly version: string;
  readonly status: DeviceRegistrationStatus;
  readonly brokerUrl: string;
}

/** What a device asks first: its status and where its transport's broker is. */
export async function getDeviceInfo(
  deps: DepsOf<Store, "hasher" | "settings">,
  call: DeviceCredentials,
): Promise<DeviceInfo> {
  const { realm, device } = await authenticateDevice(deps, call);
  return {
    version: deps.settings.serviceVersion,
    status: deviceStatusOf(device),
    brokerUrl: realm.brokerUrl ?? deps.settings.defaultBrokerUrl,
  };
}
