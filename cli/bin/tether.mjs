#!/usr/bin/env node
// The `tether` operator CLI. Runs the TypeScript sources directly through tsx's loader.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../main.ts");
process.exitCode = await main(process.argv.slice(2));
