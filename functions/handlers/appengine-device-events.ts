import { baseDeps } from "../adapters/container.ts";
import { deviceEvents } from "../core/use-cases/device-status.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";

/** AppEngine `GET /v1/{realm}/devices/{device_id}/events` (realm JWT with `a_aea`): the credential timeline. */
export const handler = httpHandler(async (request) => {
  const data = await deviceEvents(
    baseDeps(),
    { realmName: request.param("realm"), authorization: request.header("authorization") },
    request.param("device_id"),
  );
  return { response: json(200, { data }), outcome: "DeviceEventsServed" };
});
