import { baseDeps, connectionControl, transportRegistry } from "../adapters/container.ts";
import { getDeviceStatus, patchDevice } from "../core/use-cases/device-status.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";

/** AppEngine `GET` and `PATCH /v1/{realm}/devices/{device_id}` (realm JWT with `a_aea`). */
export const handler = httpHandler(async (request) => {
  const call = { realmName: request.param("realm"), authorization: request.header("authorization") };
  const deviceId = request.param("device_id");
  if (request.method === "PATCH") {
    const data = await patchDevice(
      { ...baseDeps(), transport: transportRegistry(), connections: connectionControl() },
      call,
      deviceId,
      request.body(),
    );
    return { response: json(200, { data }), outcome: "DevicePatched" };
  }
  return {
    response: json(200, { data: await getDeviceStatus(baseDeps(), call, deviceId) }),
    outcome: "DeviceStatusServed",
  };
});
