import { httpEntry } from "../http/entry.ts";
import { json } from "../http/responses.ts";

/** API Gateway's `$default` route: any path Tether does not serve is Astarte's 404 `Page not found`. */
export const handler = httpEntry(async () => ({
  response: json(404, { errors: { detail: "Page not found" } }),
  outcome: "PageNotFound",
}));
