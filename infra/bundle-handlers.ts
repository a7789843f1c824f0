// `tsx infra/bundle-handlers.ts <outdir> [handler …]`: bundles Tether's Lambda handlers (all of them when none
// is named) the way they are deployed. The CDK app runs this once per synth (see constructs/node-function.ts).
import { readdir } from "node:fs/promises";
import { basename } from "node:path";
import { bundleHandlers, HANDLERS_DIR } from "./bundling.ts";

const [outdir, ...named] = process.argv.slice(2);
if (!outdir) {
  console.error("usage: tsx infra/bundle-handlers.ts <outdir> [handler …]");
  process.exit(2);
}
const handlers = named.length
  ? named
  : (await readdir(HANDLERS_DIR)).filter((f) => f.endsWith(".ts")).map((f) => basename(f, ".ts"));
await bundleHandlers(handlers, outdir);
