import type * as z from "zod/mini";
import {
  type Api,
  type PathParams,
  type RequestBody,
  type ResponseBody,
  ROUTES,
  type RouteContract,
  type RouteName,
  type RouteQuery,
  routePath,
} from "./routes.ts";

/** An answer outside 2xx: its status, its body (parsed JSON when it is JSON) and `Retry-After` in seconds. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(`API answered ${status}: ${JSON.stringify(body)}`);
    this.name = "ApiError";
  }
}

/** What a caller adds to a request before it goes: its `Authorization` (a secret, a JWT, a SigV4 signature). */
export type Authorize = (request: {
  readonly route: RouteContract;
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}) => Promise<Readonly<Record<string, string>>> | Readonly<Record<string, string>>;

export interface ApiClientOptions {
  /** Base URL of each API (e.g. `https://…/pairing`), without a trailing slash. */
  readonly baseUrl: (api: Api) => string;
  readonly authorize?: Authorize;
  readonly fetch?: typeof fetch;
}

export type CallInput<N extends RouteName> = {
  readonly params: PathParams<N>;
} & (RequestBody<N> extends undefined ? { readonly body?: undefined } : { readonly body: RequestBody<N> }) &
  (RouteQuery<N> extends undefined ? { readonly query?: undefined } : { readonly query?: RouteQuery<N> });

/**
 * A typed client of every route in the contract: the method, path and bodies come from {@link ROUTES}, and a
 * success body is validated against the route's response schema, so a client can never drift from the server.
 */
export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  /** The URL a call goes to. */
  url<N extends RouteName>(name: N, input: CallInput<N>): string {
    const route: RouteContract = ROUTES[name];
    return `${this.options.baseUrl(route.api)}${routePath(name, input.params, input.query as Record<string, string | undefined>)}`;
  }

  async call<N extends RouteName>(
    name: N,
    input: CallInput<N>,
  ): Promise<{ readonly status: number; readonly body: ResponseBody<N> }> {
    const route: RouteContract = ROUTES[name];
    const url = this.url(name, input);
    const body = input.body === undefined ? undefined : JSON.stringify(input.body);
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) {
      headers["content-type"] =
        route.method === "PATCH" ? "application/merge-patch+json" : "application/json";
    }
    Object.assign(
      headers,
      await this.options.authorize?.({ route, method: route.method, url, headers, body }),
    );
    const response = await (this.options.fetch ?? fetch)(url, {
      method: route.method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    let parsed: unknown = text || undefined;
    try {
      parsed = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      // not JSON (a proxy's error page): kept as text
    }
    if (!response.ok) {
      const retryAfter = Number(response.headers.get("retry-after"));
      throw new ApiError(
        response.status,
        parsed,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      );
    }
    const schema = (route as { response?: z.ZodMiniType }).response;
    return { status: response.status, body: (schema ? schema.parse(parsed) : undefined) as ResponseBody<N> };
  }
}
