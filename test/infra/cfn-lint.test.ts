/**
 * cfn-lint over the synthesized templates, the checks CloudFormation itself would make at deploy. It must
 * be installed (`pip install cfn-lint`); without it this test fails and says so, rather than passing.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { synth } from "./synth.ts";

const run = promisify(execFile);

/**
 * Warnings about what CDK itself writes: W3005 (a DependsOn that CDK adds next to a GetAtt), W3045 (the
 * access-log bucket's AccessControl, which CloudFront standard log delivery needs).
 */
const ignored = ["W3005", "W3045"];

function cfnLint(): string {
  try {
    execFileSync("cfn-lint", ["--version"], { stdio: "pipe" });
    return "cfn-lint";
  } catch {
    throw new Error(
      "cfn-lint is not installed or not on PATH: install it (pip install cfn-lint) to run this test",
    );
  }
}

const stages: [string, Record<string, unknown>][] = [
  ["dev (environment-agnostic)", {}],
  [
    "prod in us-east-1 with every option",
    {
      stage: "prod",
      region: "us-east-1",
      alarmEmail: "ops@example.com",
      cloudFrontWaf: "create",
      dashboardDomain: "switchboard.example.com",
      dashboardCertificateArn:
        "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000",
    },
  ],
];

describe("cfn-lint", () => {
  it.each(stages)("finds nothing in the %s template", async (_name, context) => {
    const binary = cfnLint();
    const s = synth(context);
    const dir = mkdtempSync(join(tmpdir(), "switchboard-cfn-lint-"));
    try {
      const file = join(dir, "template.json");
      writeFileSync(file, JSON.stringify(s.template.toJSON()));
      const result = await run(binary, [
        "--format",
        "parseable",
        "--ignore-checks",
        ...ignored,
        "--",
        file,
      ]).then(
        () => "",
        (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ""}${error.stderr ?? ""}`,
      );
      expect(result.trim()).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
      s.dispose();
    }
  });
});
