import { baseDeps } from "../adapters/container.ts";
import { createRealm, deleteRealm, getRealm, listRealms, updateRealm } from "../core/use-cases/realms.ts";
import { httpHandler } from "../http/handler.ts";
import { empty, json } from "../http/responses.ts";

/**
 * Housekeeping: `POST|GET /v1/realms`, `GET|PATCH|DELETE /v1/realms/{realm}`. Authorized by IAM at API Gateway on
 * AWS (and by the admin token in the local server), never by a realm key.
 */
export const handler = httpHandler(async (request) => {
  const deps = baseDeps();
  const realm = request.param("realm");
  if (!realm) {
    if (request.method === "POST") {
      return {
        response: json(201, { data: await createRealm(deps, request.body()) }),
        outcome: "RealmCreated",
      };
    }
    return { response: json(200, { data: await listRealms(deps) }), outcome: "RealmsListed" };
  }
  if (request.method === "PATCH") {
    return {
      response: json(200, { data: await updateRealm(deps, realm, request.body()) }),
      outcome: "RealmUpdated",
    };
  }
  if (request.method === "DELETE") {
    await deleteRealm(deps, realm);
    return { response: empty(204), outcome: "RealmDeleted" };
  }
  return { response: json(200, { data: await getRealm(deps, realm) }), outcome: "RealmServed" };
});
