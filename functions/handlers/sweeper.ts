import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { loadConfig } from "../adapters/config.ts";
import { baseDeps, certificateAuthority, requestBudget, transportRegistry } from "../adapters/container.ts";
import { SWEEP_SHARDS } from "../adapters/table-schema.ts";
import { backfillViews, VIEWS_BACKFILL_SECONDS } from "../core/use-cases/backfill-views.ts";
import {
  BACKLOG_COUNT_CAP,
  measureBacklog,
  SWEEP_BACKLOG_METRICS,
  SWEEP_DEFAULTS,
  type SweepReport,
  sweep,
} from "../core/use-cases/sweep.ts";
import { logger, metrics } from "../observability.ts";

/** The sweep lane's rate (null: unlimited), read from the function's environment once per container. */
let itemsPerSecond: number | null | undefined;

/** Time kept back at the end of a run for the items in flight and the backlog measure. */
const MARGIN_MS = 20_000;

/**
 * Scheduled (EventBridge, every minute): retires expired, superseded-past-grace and revoked certificates,
 * cleans up abandoned issuances and purges deleted realms, every shard served each round, for at most
 * {@link SWEEP_DEFAULTS.runSeconds} at the pace the shared AWS request budget admits; then measures what is still due. A metric per outcome,
 * the backlog and its oldest item's age; what is left is the next minute's.
 */
export const handler = middy<unknown, SweepReport>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async (_event: unknown, context: Context): Promise<SweepReport> => {
    if (itemsPerSecond === undefined) itemsPerSecond = loadConfig().REQUEST_BUDGET.sweep;
    const deps = {
      ...baseDeps(),
      ca: certificateAuthority(),
      transport: transportRegistry(),
      budget: requestBudget(),
    };
    const startedAt = Date.now();
    const endAt = startedAt + SWEEP_DEFAULTS.runSeconds * 1000;
    // A stage upgraded from before the device search: its devices get their views, a slice of each run at most.
    const backfilled = await backfillViews(
      deps,
      () => Date.now() < startedAt + VIEWS_BACKFILL_SECONDS * 1000,
    );
    if (backfilled > 0) logger.info("search views backfilled", { devices: backfilled });
    const report = await sweep(deps, {
      shards: SWEEP_SHARDS,
      pageSize: SWEEP_DEFAULTS.pageSize,
      // What the lane admits over a run; the budget paces the items within it.
      maxItems: (itemsPerSecond ?? Number.POSITIVE_INFINITY) * SWEEP_DEFAULTS.runSeconds,
      hasTime: () => Date.now() < endAt && context.getRemainingTimeInMillis() > MARGIN_MS,
    });
    for (const [outcome, count] of Object.entries(report.outcomes)) {
      metrics.addMetric(`Swept_${outcome}`, MetricUnit.Count, count);
    }
    const backlog = await measureBacklog(deps, SWEEP_SHARDS, BACKLOG_COUNT_CAP);
    metrics.addMetric(SWEEP_BACKLOG_METRICS.count, MetricUnit.Count, backlog.count);
    metrics.addMetric(SWEEP_BACKLOG_METRICS.oldestAge, MetricUnit.Seconds, backlog.oldestDueAgeSeconds);
    logger.info("sweep finished", { ...report, backlog });
    return report;
  });
