import { baseDeps } from "../adapters/container.ts";
import { type DeviceQuery, isSearch } from "../core/device-query.ts";
import { ValidationError } from "../core/errors.ts";
import { listDevices } from "../core/use-cases/device-status.ts";
import { agentAuthorizer } from "../http/auth.ts";
import { httpHandler } from "../http/handler.ts";
import { json } from "../http/responses.ts";
import { pageStart } from "../http/validation.ts";
import { deviceListView } from "../http/views.ts";

/**
 * AppEngine `GET /v1/{realm}/devices?details=&limit=&from_token=` (realm JWT with `a_aea`): a page of devices; with
 * Tether's `status`, `connected`, `id_prefix`, `expiring_before` and `sort`, a page of a search.
 */
export const handler = httpHandler(
  {
    listDevices: async (request) => {
      const { realm } = request.principal;
      const query = request.query();
      const search: DeviceQuery = {
        status: query.status,
        connected: query.connected === undefined ? undefined : query.connected === "true",
        idPrefix: query.id_prefix,
        // One form of the time (UTC, milliseconds), as certificate expiries are recorded and compared.
        expiringBefore:
          query.expiring_before === undefined ? undefined : new Date(query.expiring_before).toISOString(),
        sort: query.sort ?? (query.expiring_before === undefined ? "device_id" : "expiry"),
        metadata: metadataFilter(query.metadata_key, query.metadata_value),
      };
      // A search's token is opaque (its store checks it); Astarte's list pages from a device id.
      const after = isSearch(search) ? query.from_token : pageStart(query);
      const page = await listDevices(baseDeps(), realm, {
        limit: query.limit,
        after,
        withCertificates: query.details === "true",
        query: search,
      });
      return { response: json(200, deviceListView(realm, query, after, page)), outcome: "DevicesListed" };
    },
  },
  { authorizeAgent: agentAuthorizer(baseDeps) },
);

/** `metadata_key` and `metadata_value` come together (422 otherwise). */
function metadataFilter(key: string | undefined, value: string | undefined): DeviceQuery["metadata"] {
  if (key === undefined && value === undefined) return undefined;
  if (key === undefined) throw new ValidationError({ metadata_key: ["is required with metadata_value"] });
  if (value === undefined) throw new ValidationError({ metadata_value: ["is required with metadata_key"] });
  return { key, value };
}
