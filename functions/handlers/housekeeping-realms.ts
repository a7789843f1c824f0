import { baseDeps } from "../adapters/container.ts";
import type { Realm } from "../core/model.ts";
import { createRealm, deleteRealm, getRealm, listRealms, updateRealm } from "../core/use-cases/realms.ts";
import { httpHandler } from "../http/handler.ts";
import { empty, json } from "../http/responses.ts";
import { realmView } from "../http/views.ts";

const view = (realm: Realm) => realmView(realm, baseDeps().settings.defaultBrokerUrl);

/**
 * Housekeeping: `POST|GET /v1/realms`, `GET|PATCH|DELETE /v1/realms/{realm}`. Authorized by IAM at API Gateway on
 * AWS (and by the admin token in the local server), never by a realm key.
 */
export const handler = httpHandler({
  createRealm: async (request) => ({
    response: json(201, { data: view(await createRealm(baseDeps(), request.input())) }),
    outcome: "RealmCreated",
  }),
  listRealms: async () => ({
    response: json(200, { data: await listRealms(baseDeps()) }),
    outcome: "RealmsListed",
  }),
  getRealm: async (request) => ({
    response: json(200, { data: view(await getRealm(baseDeps(), request.param("realm"))) }),
    outcome: "RealmServed",
  }),
  updateRealm: async (request) => ({
    response: json(200, { data: view(await updateRealm(baseDeps(), request.param("realm"), request.input)) }),
    outcome: "RealmUpdated",
  }),
  deleteRealm: async (request) => {
    await deleteRealm(baseDeps(), request.param("realm"));
    return { response: empty(204), outcome: "RealmDeleted" };
  },
});
