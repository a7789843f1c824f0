import type { DeviceInfoResponse } from "../../contracts/pairing.ts";
import { deviceStatusOf } from "../model.ts";
import type { DepsOf } from "../pairing-deps.ts";
import type { DeviceRegistry, RealmStore } from "../ports/device-store.ts";
import { authenticateDevice, type DeviceCredentials } from "./authenticate.ts";

/** The store concepts this use-case reads and writes. */
type Store = RealmStore & DeviceRegistry;

/** What a device asks first: its status and where its transport's broker is. */
export async function getDeviceInfo(
  deps: DepsOf<Store, "hasher" | "settings">,
  call: DeviceCredentials,
): Promise<DeviceInfoResponse["data"]> {
  const { realm, device } = await authenticateDevice(deps, call);
  return {
    version: deps.settings.serviceVersion,
    status: deviceStatusOf(device),
    protocols: { astarte_mqtt_v1: { broker_url: realm.brokerUrl ?? deps.settings.defaultBrokerUrl } },
  };
}
