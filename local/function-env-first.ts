// Imported first by `npm start` (local/start.ts): Powertools reads its settings when the functions' observability
// module is first loaded, and the adapters start.ts imports load it before start.ts's own code runs. Metrics off
// (locally they would print one CloudWatch EMF JSON line per request) and quiet logs, from the first import on.
process.env.POWERTOOLS_METRICS_DISABLED = "true";
process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
