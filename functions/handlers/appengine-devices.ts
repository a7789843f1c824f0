import { baseDeps } from "../adapters/container.ts";
import { listDevices } from "../core/use-cases/device-status.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";

/** AppEngine `GET /v1/{realm}/devices?details=&limit=&from_token=` (realm JWT with `a_aea`): a page of devices. */
export const handler = httpHandler(async (request) => {
  const page = await listDevices(
    baseDeps(),
    { realmName: request.param("realm"), authorization: request.header("authorization") },
    {
      details: request.query("details"),
      limit: request.query("limit"),
      from_token: request.query("from_token"),
      from: request.query("from"),
    },
  );
  return { response: json(200, page), outcome: "DevicesListed" };
});
