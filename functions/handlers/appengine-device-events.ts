import { baseDeps } from "../adapters/container.ts";
import { deviceEvents } from "../core/use-cases/device-status.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";
import { deviceEventsView } from "../http/views.ts";

/** AppEngine `GET /v1/{realm}/devices/{device_id}/events` (realm JWT with `a_aea`): the credential timeline. */
export const handler = httpHandler(
  {
    deviceEvents: async (request) => {
      const data = deviceEventsView(await deviceEvents(baseDeps(), request.principal));
      return { response: json(200, { data }), outcome: "DeviceEventsServed" };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);
