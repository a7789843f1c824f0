import { baseDeps, connectionControl, transportRegistry } from "../adapters/container.ts";
import { unregisterDevice } from "../core/use-cases/unregister-device.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { empty } from "../http/responses.ts";

/** `DELETE /v1/{realm}/agent/devices/{device_id}` → 204. */
export const handler = httpHandler(
  {
    unregisterDevice: async (request) => {
      await unregisterDevice(
        { ...baseDeps(), transport: transportRegistry(), connections: connectionControl() },
        request.principal,
      );
      return { response: empty(204), outcome: "DeviceUnregistered" };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);
