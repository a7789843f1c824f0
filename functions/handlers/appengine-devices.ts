import { baseDeps } from "../adapters/container.ts";
import { listDevices } from "../core/use-cases/device-status.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";

/** AppEngine `GET /v1/{realm}/devices?details=&limit=&from_token=` (realm JWT with `a_aea`): a page of devices. */
export const handler = httpHandler(
  {
    listDevices: async (request) => {
      const page = await listDevices(baseDeps(), request.principal.realm, request.query());
      return { response: json(200, page), outcome: "DevicesListed" };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);
