import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { baseDeps } from "../adapters/container.ts";
import { recordPresence, type TransportEventOutcome } from "../core/use-cases/transport-events.ts";
import { logger, metrics } from "../observability.ts";

/** IoT Core lifecycle event, as the topic rule on `$aws/events/presence/#` forwards it. */
const lifecycleEvent = z.object({
  clientId: z.string().check(z.maxLength(256)),
  eventType: z.enum(["connected", "disconnected"]),
  timestamp: z.int().check(z.positive()),
  ipAddress: z.optional(z.string().check(z.maxLength(64))),
  disconnectReason: z.optional(z.string().check(z.maxLength(64))),
});

/** Topic rule target: updates the device's `connected`, `last_connection`, `last_disconnection`, `last_seen_ip`. */
export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event: unknown): Promise<TransportEventOutcome> => {
    const parsed = lifecycleEvent.safeParse(event);
    let outcome: TransportEventOutcome = "invalid";
    if (parsed.success) {
      outcome = await recordPresence(baseDeps(), {
        clientId: parsed.data.clientId,
        connected: parsed.data.eventType === "connected",
        at: new Date(parsed.data.timestamp),
        ip: parsed.data.ipAddress,
        disconnectReason: parsed.data.disconnectReason,
      });
    }
    metrics.addMetric(`Presence_${outcome}`, MetricUnit.Count, 1);
    return outcome;
  });
