import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Pinned so a run never waits on a watcher, in CI or on a laptop.
    watch: false,
    // One file at a time across projects: on a 2-core machine, CDK bundling next to the emulator-backed
    // suites starves both, and timing-sensitive steps (spawned CLIs, broker drops) get flaky.
    fileParallelism: false,
    // `npm run test:unit` (and so `npm test`) measures the use-cases on the in-memory adapters alone: every file
    // under core/use-cases must keep 90 % of its lines covered by unit tests, with no emulator behind them.
    coverage: {
      provider: "v8",
      include: ["functions/core/use-cases/**"],
      reporter: ["text-summary"],
      thresholds: { lines: 90, perFile: true },
    },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "infra",
          include: ["test/infra/**/*.test.ts"],
          // Synthesizing bundles every function with esbuild once per file.
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
          // One moto and one broker for the whole run (started here), reset before every file (setup file).
          globalSetup: ["test/setup/local-aws.global.ts"],
          setupFiles: ["test/setup/local-aws.per-file.ts"],
          // Files share the emulator, so they run one after the other.
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
