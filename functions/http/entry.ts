import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy, { type MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { MalformedRequestError, PayloadTooLargeError } from "../core/errors.ts";
import type { RequestMeta } from "../core/pairing-deps.ts";
import { logger, metrics } from "../observability.ts";
import { errorCode, errorResponse } from "./errors.ts";

/** Largest request body Tether reads (a CSR or certificate is a few KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

/** What a route handler sees of the HTTP request. */
export interface HttpRequest {
  readonly method: string;
  /** The path parameters present. */
  readonly params: Readonly<Record<string, string>>;
  param(name: string): string;
  header(name: string): string | undefined;
  readonly queries: Readonly<Record<string, string | undefined>>;
  /** The JSON body; 400 if it is not JSON, 413 if it is too large. */
  body(): unknown;
  readonly meta: RequestMeta;
}

export interface RouteResult {
  readonly response: Result;
  /** Metric counted once for this request's outcome (e.g. `DeviceRegistered`); every request has one. */
  readonly outcome: string;
}

function toRequest(event: Event, context: Context): HttpRequest {
  let parsed: { value: unknown } | undefined;
  return {
    method: event.requestContext.http.method,
    params: Object.fromEntries(
      Object.entries(event.pathParameters ?? {}).filter((e): e is [string, string] => e[1] !== undefined),
    ),
    param: (name) => event.pathParameters?.[name] ?? "",
    header: (name) => event.headers?.[name.toLowerCase()],
    queries: event.queryStringParameters ?? {},
    body() {
      if (parsed) return parsed.value;
      const raw = event.body ?? "";
      const text = event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
      if (Buffer.byteLength(text, "utf8") > MAX_BODY_BYTES) throw new PayloadTooLargeError("body too large");
      try {
        parsed = { value: JSON.parse(text) };
      } catch {
        throw new MalformedRequestError("body is not JSON");
      }
      return parsed.value;
    },
    meta: { sourceIp: event.requestContext.http.sourceIp, requestId: context.awsRequestId },
  };
}

/** Maps every error to the Astarte error body, last in the chain, and counts it by cause. */
function astarteErrors(): MiddlewareObj<Event, Result> {
  return {
    onError: async (request) => {
      const code = errorCode(request.error);
      const response = errorResponse(request.error, request.context.awsRequestId);
      if (response.statusCode && response.statusCode >= 500) {
        logger.error("request failed", { code, error: request.error as Error });
      } else {
        // Client mistakes are expected traffic: the cause is enough, never the request's content.
        logger.info("request rejected", { code, status: response.statusCode });
      }
      metrics.addMetric(`Rejected_${code}`, MetricUnit.Count, 1);
      request.response = response;
    },
  };
}

/**
 * Builds a Lambda entry point for HTTP API (v2) requests: Powertools logger (request id, realm, device id)
 * and metrics, then `route`, with errors mapped last. Route handlers use {@link httpHandler}, which adds
 * authorization and input parsing from the route table; this is for what no route names (the 404).
 */
export function httpEntry(route: (request: HttpRequest) => Promise<RouteResult>) {
  return middy<Event, Result>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(astarteErrors())
    .handler(async (event, context) => {
      const realm = event.pathParameters?.realm;
      const deviceId = event.pathParameters?.device_id;
      logger.appendKeys({ realm, deviceId });
      const { response, outcome } = await route(toRequest(event, context));
      metrics.addMetric(outcome, MetricUnit.Count, 1);
      return response;
    });
}
