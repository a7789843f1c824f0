import { baseDeps } from "../adapters/container.ts";
import { requireRealm } from "../core/use-cases/authenticate.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";

/** `GET /version` and `GET /v1/{realm}/version` → `{"data": "<version>"}`. */
async function version(request: { param(name: string): string }) {
  const deps = baseDeps();
  const realm = request.param("realm");
  if (realm) await requireRealm(deps, realm);
  return { response: json(200, { data: deps.settings.serviceVersion }), outcome: "VersionServed" };
}

export const handler = httpHandler({ version, realmVersion: version });
