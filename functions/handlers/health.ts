import { baseDeps } from "../adapters/container.ts";
import { realmNameSchema } from "../contracts/ids.ts";
import { UnknownRealmError } from "../core/errors.ts";
import { httpHandler } from "../http/handler.ts";
import { empty } from "../http/responses.ts";

/**
 * `GET /health` and `GET /v1/{realm}/health`: 200 when the table answers, 503 (empty body) when it does
 * not. An unknown realm is 403, as on every realm route.
 */
async function health(request: { param(name: string): string }) {
  const deps = baseDeps();
  const realm = request.param("realm");
  if (realm && !realmNameSchema.safeParse(realm).success) throw new UnknownRealmError();
  let found: boolean;
  try {
    found = (await deps.store.getRealm(realm || "health-check")) !== undefined;
  } catch {
    return { response: empty(503), outcome: "HealthCheckFailed" };
  }
  if (realm && !found) throw new UnknownRealmError();
  return { response: empty(200), outcome: "HealthCheckPassed" };
}

export const handler = httpHandler({ health, realmHealth: health });
