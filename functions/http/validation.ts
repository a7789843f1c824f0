import type * as z from "zod/mini";
import { canonicalDeviceId } from "../contracts/ids.ts";
import { MalformedRequestError, ValidationError } from "../core/errors.ts";

/**
 * Validates a request body against its contract. A body that is not an object with an object `data` is
 * malformed (400 `Bad request`); anything else wrong is a field error (422), keyed by the field's name
 * inside `data` as Astarte reports it.
 */
export function parseEnvelope<T>(schema: z.ZodMiniType<T>, body: unknown): T {
  const data = (body as { data?: unknown } | null)?.data;
  if (
    typeof body !== "object" ||
    body === null ||
    typeof data !== "object" ||
    data === null ||
    Array.isArray(data)
  ) {
    throw new MalformedRequestError("Bad request");
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const fields: Record<string, string[]> = {};
  for (const issue of result.error.issues) {
    const field = issue.path.slice(1).map(String).join(".") || "data";
    const messages = fields[field] ?? [];
    if (!messages.includes(issue.message)) messages.push(issue.message);
    fields[field] = messages;
  }
  throw new ValidationError(fields);
}

/** Validates a query string against its contract: each bad parameter is a field error (422), keyed by its name. */
export function parseQuery<T>(
  schema: z.ZodMiniType<T>,
  query: Readonly<Record<string, string | undefined>>,
): T {
  const result = schema.safeParse(query);
  if (result.success) return result.data;
  throw new ValidationError(
    Object.fromEntries(result.error.issues.map((i) => [String(i.path[0] ?? "query"), [i.message]])),
  );
}

/**
 * Where a device list page starts: the device id in `from_token` (or `from`, Tether's older name for it), in
 * canonical form; a token that names no device id is a field error.
 */
export function pageStart(query: {
  readonly from_token?: string | undefined;
  readonly from?: string | undefined;
}): string | undefined {
  const token = query.from_token ?? query.from;
  if (token === undefined) return undefined;
  const after = canonicalDeviceId(token);
  if (!after)
    throw new ValidationError({
      [query.from_token === undefined ? "from" : "from_token"]: ["is not a page token"],
    });
  return after;
}
