// How every Tether Lambda function is bundled: one definition, used by the CDK app (through
// `infra/bundle-handlers.ts`, run as a subprocess because CDK's local bundling is synchronous) and by
// `npm run bench` (which measures exactly these bundles).
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type BuildOptions, build, type Metafile, type Plugin } from "esbuild";

const REPO = resolve(import.meta.dirname, "..");
export const HANDLERS_DIR = join(REPO, "functions/handlers");

/** The file each bundle is written to inside its handler's directory, and the Lambda `handler` setting. */
export const BUNDLE_FILE = "index.mjs";
export const LAMBDA_HANDLER = "index.handler";
/** Stack traces point into the TypeScript sources (costs a few ms of init, measured by the bench). */
export const LAMBDA_NODE_OPTIONS = "--enable-source-maps";

/**
 * The SDK clients' default credential chain (SSO, INI files, process, web identity, IMDS, and the STS/SSO/
 * sign-in clients they carry: ~220 KB per bundle) is replaced by the environment provider. Lambda gives a
 * function its role's credentials in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`,
 * and nothing else in a Tether function needs another source.
 */
export const CREDENTIAL_CHAIN_ALIAS = {
  "@aws-sdk/credential-provider-node": "./functions/adapters/lambda-credentials.ts",
} as const;

/** `const _h = "http";`: the string constants an AWS SDK schema module declares at its top. */
const SCHEMA_CONSTANT = /^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm;
/** A computed object key naming one of them: `{ [_h]: …` or `, [_h]: …`. */
const COMPUTED_KEY = /([{,]\s*)\[(_\w+)\]:/g;

/**
 * Rewrites `{ [_h]: x }` to `{ "http": x }` where `_h` is a module-level string constant: the same object, but
 * one esbuild can see has no side effects. The AWS SDK's generated schema modules (one per client, every
 * operation of the service) key their HTTP traits that way, which keeps all of them in a bundle that calls
 * four operations: client-iot's alone is 110 KB instead of 23 KB. Keys that are not such constants are left
 * as they are.
 */
export function literalSchemaKeys(source: string): { code: string; replaced: number } {
  const constants = new Map<string, string>();
  for (const [, name, literal] of source.matchAll(SCHEMA_CONSTANT))
    if (name && literal) constants.set(name, literal);
  let replaced = 0;
  const code = source.replace(COMPUTED_KEY, (all, lead: string, name: string) => {
    const literal = constants.get(name);
    if (literal === undefined) return all;
    replaced++;
    return `${lead}${literal}:`;
  });
  return { code, replaced };
}

const SDK_SCHEMA_MODULE = /[\\/]@aws-sdk[\\/]client-[\w-]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;

const literalSchemaKeysPlugin: Plugin = {
  name: "tether-literal-schema-keys",
  setup(b) {
    b.onLoad({ filter: SDK_SCHEMA_MODULE }, async (args) => ({
      contents: literalSchemaKeys(await readFile(args.path, "utf8")).code,
      loader: "js",
    }));
  },
};

export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minify: true,
  sourcemap: true,
  mainFields: ["module", "main"],
  alias: CREDENTIAL_CHAIN_ALIAS,
  plugins: [literalSchemaKeysPlugin],
  outExtension: { ".js": ".mjs" },
  absWorkingDir: REPO,
  logLevel: "warning",
  // ESM bundles of CommonJS dependencies still call require(): give them one.
  banner: {
    js: "import{createRequire as __tetherRequire}from'module';const require=__tetherRequire(import.meta.url);",
  },
} satisfies BuildOptions;

/**
 * Bundles the named handlers (file names in functions/handlers, without `.ts`), each into
 * `<outdir>/<handler>/index.mjs` with its source map. Returns esbuild's metafile.
 */
export async function bundleHandlers(handlers: readonly string[], outdir: string): Promise<Metafile> {
  const result = await build({
    ...BUNDLE_OPTIONS,
    entryPoints: handlers.map((h) => ({ in: join(HANDLERS_DIR, `${h}.ts`), out: `${h}/index` })),
    outdir,
    metafile: true,
  });
  return result.metafile;
}
