import { baseDeps } from "../adapters/container.ts";
import { listDevices } from "../core/use-cases/device-status.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";
import { pageStart } from "../http/validation.ts";
import { deviceListView } from "../http/views.ts";

/** AppEngine `GET /v1/{realm}/devices?details=&limit=&from_token=` (realm JWT with `a_aea`): a page of devices. */
export const handler = httpHandler(
  {
    listDevices: async (request) => {
      const { realm } = request.principal;
      const query = request.query();
      const after = pageStart(query);
      const page = await listDevices(baseDeps(), realm, {
        limit: query.limit,
        after,
        withCertificates: query.details === "true",
      });
      return { response: json(200, deviceListView(realm, query, after, page)), outcome: "DevicesListed" };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);
