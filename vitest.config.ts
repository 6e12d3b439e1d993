import { defineConfig } from "vitest/config";

/**
 * Files that measure time, load the twin on purpose or kill parts of it: they run alone, after the rest,
 * so neither they nor their neighbours read another file's load as their own.
 */
const ALONE = [
  "test/chaos/**/*.test.ts",
  "test/integration/load.test.ts",
  "test/integration/fairness.test.ts",
  "test/integration/priority.test.ts",
  "test/integration/throttling.test.ts",
  "test/integration/recovery.test.ts",
  "test/integration/twin-restart.test.ts",
  "test/integration/twin-timeouts.test.ts",
  "test/integration/fan-out-2000.test.ts",
];

// Two cores. The projects run one after another (`sequence.groupOrder`): unit tests first, then the twin's
// integration files two at a time, then the CDK and the browser tests two at a time, then the files that
// must run alone. Each integration file starts its own twin
// on its own ports and its own database (test/support/shared-dynamodb.ts), so files never share state.
const twin = {
  environment: "node",
  globalSetup: ["test/support/shared-dynamodb.ts"],
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          ...twin,
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/security/**/*.test.ts"],
          exclude: ALONE,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          // The CDK tests (synth, cfn-lint) and the browser tests load different things, so they share the
          // two cores well; each kind alone runs with `npm run test:infra` or `npm run test:e2e`.
          name: "infra-e2e",
          include: ["test/infra/**/*.test.ts", "test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/shared-dynamodb.ts"],
          maxWorkers: 2,
          testTimeout: 300_000,
          hookTimeout: 300_000,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          ...twin,
          name: "alone",
          include: ALONE,
          maxWorkers: 1,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
