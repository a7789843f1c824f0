import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { baseDeps, certificateAuthority, transportRegistry } from "../adapters/container.ts";
import { SWEEP_SHARDS } from "../adapters/table-schema.ts";
import { SWEEP_BATCH_LIMIT, type SweepReport, sweep } from "../core/use-cases/sweep.ts";
import { logger, metrics } from "../observability.ts";

/**
 * Scheduled (EventBridge, every 5 minutes): retires expired, superseded-past-grace and revoked certificates and
 * cleans up abandoned issuances. A metric per outcome; a truncated run is finished by the next.
 */
export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (): Promise<SweepReport> => {
    const report = await sweep(
      { ...baseDeps(), ca: certificateAuthority(), transport: transportRegistry() },
      { shards: SWEEP_SHARDS, batchLimit: SWEEP_BATCH_LIMIT },
    );
    for (const [outcome, count] of Object.entries(report.outcomes)) {
      metrics.addMetric(`Swept_${outcome}`, MetricUnit.Count, count);
    }
    logger.info("sweep finished", { ...report });
    return report;
  });
