// `npm run docs:cost`: rewrites README's cost table from the estimate `tether cost` prints.
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { costTableMarkdown } from "./cost.ts";

const README = resolve(import.meta.dirname, "..", "README.md");
const START = "<!-- cost:start -->";
const END = "<!-- cost:end -->";

const readme = await readFile(README, "utf8");
if (!readme.includes(START) || !readme.includes(END)) throw new Error(`README.md has no ${START} … ${END}`);
await writeFile(
  README,
  `${readme.slice(0, readme.indexOf(START) + START.length)}\n${costTableMarkdown()}\n${readme.slice(readme.indexOf(END))}`,
);
console.log("README.md: cost table rewritten");
