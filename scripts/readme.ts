// `npm run docs`: rewrites README's generated tables (routes from the route contract, cost from `tether cost`'s
// estimate). A unit test fails when README is stale.
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { README_TABLES } from "./readme-tables.ts";

const README = resolve(import.meta.dirname, "..", "README.md");

let readme = await readFile(README, "utf8");
for (const [name, table] of Object.entries(README_TABLES)) {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  if (!readme.includes(start) || !readme.includes(end)) throw new Error(`README.md has no ${start} … ${end}`);
  readme = `${readme.slice(0, readme.indexOf(start) + start.length)}\n${table()}\n${readme.slice(readme.indexOf(end))}`;
}
await writeFile(README, readme);
console.log(`README.md: ${Object.keys(README_TABLES).join(", ")} tables rewritten`);
