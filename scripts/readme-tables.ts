import { costTableMarkdown } from "../cli/cost.ts";
import { ROUTES, type RouteAuth } from "../functions/contracts/routes.ts";

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

/** The generated tables of README.md, by marker name (`<!-- name:start -->` … `<!-- name:end -->`). */
export const README_TABLES: Readonly<Record<string, () => string>> = {
  routes: routeTableMarkdown,
  cost: costTableMarkdown,
};
