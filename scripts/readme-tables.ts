import { costTableMarkdown } from "../cli/cost.ts";
import { ROUTES, type RouteAuth } from "../functions/contracts/routes.ts";
import {
  AWS_OPERATION_NAMES,
  DEFAULT_AWS_QUOTAS,
  DEFAULT_BUDGET_POLICY,
  defaultQuotas,
  LANE_CALLS,
  laneRates,
} from "../functions/core/aws-quotas.ts";

const AUTH: Readonly<Record<RouteAuth, string>> = {
  a_pa: "realm JWT, `a_pa`",
  a_aea: "realm JWT, `a_aea`",
  secret: "credentials secret",
  iam: "IAM (SigV4) on AWS, admin token locally",
  none: "none",
};

/** README's route table: every route of the contract, its auth and what it does, in the contract's order. */
export function routeTableMarkdown(): string {
  const rows = Object.values(ROUTES).map(
    (r) =>
      `| \`${r.method} /${r.api}${r.path}\` | ${AUTH[r.auth]} | ${r.status} | ${r.summary.replaceAll("|", "\\|")} |`,
  );
  return ["| route | auth | success | what it does |", "| --- | --- | ---: | --- |", ...rows].join("\n");
}

/** README's quota table: the quotas the budget assumes by default, what each lane calls, and the lanes' rates. */
export function quotaTableMarkdown(): string {
  const rates = laneRates(defaultQuotas(), DEFAULT_BUDGET_POLICY);
  const sources = [...new Set(AWS_OPERATION_NAMES.map((name) => DEFAULT_AWS_QUOTAS[name].source))];
  const rows = AWS_OPERATION_NAMES.map((name) => {
    const { quota, source } = DEFAULT_AWS_QUOTAS[name];
    const calls = (lane: "issuance" | "sweep") => LANE_CALLS[lane][name] ?? "";
    return `| \`${name}\` | ${quota} | ${calls("issuance")} | ${calls("sweep")} | ${sources.indexOf(source) + 1} |`;
  });
  const lane = (name: "issuance" | "sweep") =>
    `${rates[name].perSecond} a second, bound by \`${rates[name].boundBy}\``;
  return [
    "| operation | default quota (requests/s) | calls per issuance | calls per swept certificate | source |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
    `With a headroom of ${DEFAULT_BUDGET_POLICY.headroom * 100} %: issuance ${lane("issuance")}; sweep ${lane("sweep")}.`,
    "",
    ...sources.map((source, i) => `${i + 1}. ${source}.`),
  ].join("\n");
}

/** The generated tables of README.md, by marker name (`<!-- name:start -->` … `<!-- name:end -->`). */
export const README_TABLES: Readonly<Record<string, () => string>> = {
  routes: routeTableMarkdown,
  cost: costTableMarkdown,
  quotas: quotaTableMarkdown,
};
