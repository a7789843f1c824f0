import { baseDeps, credentialsHasher, transportRegistry } from "../adapters/container.ts";
import { registerDevice } from "../core/use-cases/register-device.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";

/** `POST /v1/{realm}/agent/devices` → 201 `{"data": {"credentials_secret": …}}`. */
export const handler = httpHandler(
  {
    registerDevice: async (request) => {
      const result = await registerDevice(
        { ...baseDeps(), hasher: credentialsHasher(), transport: transportRegistry() },
        request.principal.realm,
        request.input(),
      );
      return {
        response: json(201, { data: { credentials_secret: result.credentialsSecret } }),
        outcome: "DeviceRegistered",
      };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);
