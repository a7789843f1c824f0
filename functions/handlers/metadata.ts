import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import * as z from "zod/mini";
import { baseDeps } from "../adapters/container.ts";
import { recordMetadata, type TransportEventOutcome } from "../core/use-cases/transport-events.ts";
import { logger, metrics } from "../observability.ts";

/** What the topic rule on `+/+/metadata` forwards: the topic and the payload, base64 (it may not be JSON). */
const metadataMessage = z.object({
  topic: z.string().check(z.maxLength(512)),
  payload: z.string().check(z.maxLength(8192)),
});

/** Topic rule target: merges a device's reported key/values into its record; bad input is counted, never thrown. */
export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (event: unknown): Promise<TransportEventOutcome> => {
    const parsed = metadataMessage.safeParse(event);
    const outcome = parsed.success
      ? await recordMetadata(baseDeps(), {
          topic: parsed.data.topic,
          payload: Buffer.from(parsed.data.payload, "base64"),
        })
      : "invalid";
    metrics.addMetric(`Metadata_${outcome}`, MetricUnit.Count, 1);
    return outcome;
  });
