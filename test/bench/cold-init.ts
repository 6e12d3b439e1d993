/**
 * Bundles every function of the manifest as the CDK stack does (esbuild, ESM, node22, minified, with the
 * createRequire banner), then times importing each bundle in a fresh Node process: the init part of a
 * Lambda cold start, without the runtime's own start.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { type FunctionName, manifest } from "#infra/manifest";
import { ENV } from "#shared/config";
import { esmRequireBanner } from "../../infra/stack/functions.ts";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");

/** What a handler may check at init: every variable the stack sets, with values that reach nothing. */
const DUMMY_ENV: Record<string, string> = {
  ...Object.fromEntries(Object.values(ENV).map((name) => [name, `dummy-${name.toLowerCase()}`])),
  [ENV.stepsQueueUrl]: "https://sqs.us-east-1.amazonaws.com/000000000000/steps",
  [ENV.stepsDlqUrl]: "https://sqs.us-east-1.amazonaws.com/000000000000/steps-dlq",
  [ENV.wsCallbackUrl]: "https://example.execute-api.us-east-1.amazonaws.com/prod",
  [ENV.taskSubnets]: "subnet-1",
  [ENV.taskSecurityGroups]: "sg-1",
  [ENV.version]: "0.0.0-bench",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  POWERTOOLS_SERVICE_NAME: "bench",
  POWERTOOLS_METRICS_NAMESPACE: "Switchboard",
  POWERTOOLS_LOG_LEVEL: "WARN",
  NODE_OPTIONS: "",
};

export interface ColdInit {
  coldInitMs: Record<string, number>;
  bundleKb: Record<string, number>;
  /** Runs per function; the median is reported. */
  runs: number;
  errors: Record<string, string>;
}

async function timeImport(file: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    env: { PATH: process.env.PATH ?? "", ...DUMMY_ENV },
    timeout: 60_000,
  });
  const ms = Number(stdout.trim().split("\n").at(-1));
  if (!Number.isFinite(ms)) throw new Error(`no timing in output: ${stdout.slice(0, 200)}`);
  return ms;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

export async function measureColdInit(runs = 3): Promise<ColdInit> {
  const dir = await mkdtemp(join(tmpdir(), "switchboard-bundles-"));
  const result: ColdInit = { coldInitMs: {}, bundleKb: {}, runs, errors: {} };
  try {
    for (const name of Object.keys(manifest.functions) as FunctionName[]) {
      const outfile = join(dir, name, "index.mjs");
      try {
        await build({
          entryPoints: [resolve(ROOT, manifest.functions[name].entry)],
          outfile,
          bundle: true,
          platform: "node",
          format: "esm",
          target: "node22",
          mainFields: ["module", "main"],
          banner: { js: esmRequireBanner },
          minify: true,
          keepNames: true,
          sourcemap: true,
          sourcesContent: false,
          charset: "utf8",
          tsconfig: resolve(ROOT, "tsconfig.json"),
          logLevel: "silent",
        });
        result.bundleKb[name] = Math.round((await stat(outfile)).size / 1024);
        const times: number[] = [];
        for (let i = 0; i < runs; i++) times.push(await timeImport(outfile));
        result.coldInitMs[name] = Math.round(median(times));
      } catch (error) {
        result.errors[name] = (error as Error).message.split("\n").slice(0, 3).join(" ");
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}
