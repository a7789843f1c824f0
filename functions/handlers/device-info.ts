import { baseDeps, credentialsHasher } from "../adapters/container.ts";
import { getDeviceInfo } from "../core/use-cases/get-device-info.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";
import { deviceInfoView } from "../http/views.ts";

/** `GET /v1/{realm}/devices/{device_id}` (credentials secret) → status and broker URL. */
export const handler = httpHandler({
  deviceInfo: async (request) => {
    const data = deviceInfoView(
      await getDeviceInfo({ ...baseDeps(), hasher: credentialsHasher() }, request.principal),
    );
    return { response: json(200, { data }), outcome: "DeviceInfoServed" };
  },
});
