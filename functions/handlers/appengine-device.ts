import { baseDeps, connectionControl, transportRegistry } from "../adapters/container.ts";
import { getDeviceStatus, patchDevice } from "../core/use-cases/device-status.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";
import { deviceStatusView } from "../http/views.ts";

/** AppEngine `GET` and `PATCH /v1/{realm}/devices/{device_id}` (realm JWT with `a_aea`). */
export const handler = httpHandler(
  {
    deviceStatus: async (request) => ({
      response: json(200, { data: deviceStatusView(await getDeviceStatus(baseDeps(), request.principal)) }),
      outcome: "DeviceStatusServed",
    }),
    patchDevice: async (request) => {
      const patch = request.input();
      const status = await patchDevice(
        { ...baseDeps(), transport: transportRegistry(), connections: connectionControl() },
        request.principal,
        { credentialsInhibited: patch.credentials_inhibited, revokeCredentials: patch.revoke_credentials },
      );
      return { response: json(200, { data: deviceStatusView(status) }), outcome: "DevicePatched" };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);
