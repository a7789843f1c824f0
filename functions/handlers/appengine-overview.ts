import { baseDeps } from "../adapters/container.ts";
import { fleetOverview } from "../core/use-cases/fleet-overview.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";
import { fleetOverviewView } from "../http/views.ts";

/** Tether `GET /appengine/v1/{realm}/overview` (realm JWT with `a_aea`): the fleet at a glance. */
export const handler = httpHandler(
  {
    fleetOverview: async (request) => {
      const data = fleetOverviewView(await fleetOverview(baseDeps(), request.principal.realm));
      return { response: json(200, { data }), outcome: "OverviewServed" };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);
