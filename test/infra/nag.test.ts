import type { PolicyValidationPluginReport } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nagPacks } from "#infra/stack/nag";
import { acknowledgements, type Synthesized, synth } from "./synth.ts";

/** Long enough to say what and why; "not needed" or "false positive" is not a reason. */
const minimumReasonLength = 60;

const summarize = (report: PolicyValidationPluginReport) =>
  report.violations.map(
    (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
  );

let s: Synthesized;
let reports: PolicyValidationPluginReport[];

beforeAll(() => {
  s = synth();
  reports = nagPacks().map((pack) => pack.validateScope(s.stack));
});

afterAll(() => s?.dispose());

describe("cdk-nag", () => {
  it("runs AwsSolutions and Serverless, with explanations", () => {
    expect(nagPacks().map((p) => p.readPackName)).toEqual(["AwsSolutions", "Serverless"]);
  });

  it("reports no unacknowledged error or warning", () => {
    const findings = reports.flatMap(summarize);
    expect(findings).toEqual([]);
    expect(reports.every((r) => r.success)).toBe(true);
  });

  it("gives every acknowledgement a specific reason", () => {
    const ours = acknowledgements(s.stack).filter((a) =>
      /^Annotation::(AwsSolutions|Serverless)-/i.test(a.id),
    );
    expect(ours.length).toBeGreaterThan(0);
    for (const a of ours) {
      expect(a.reason.length, `${a.path} ${a.id}: "${a.reason}"`).toBeGreaterThanOrEqual(minimumReasonLength);
    }
  });

  it("acknowledges wildcard findings one by one, never the whole rule", () => {
    const bare = acknowledgements(s.stack).filter((a) => /AwsSolutions-IAM5$/.test(a.id));
    expect(bare).toEqual([]);
  });

  it("still catches a wildcard nobody justified", () => {
    const bad = synth(
      {},
      {
        before: (stack) => {
          const steps = stack.jobs.queues.get("steps")!.queue;
          stack.functions
            .get("ws")
            .addToRolePolicy(new PolicyStatement({ actions: ["s3:GetObject"], resources: ["*"] }));
          stack.functions
            .get("sweeper")
            .addToRolePolicy(new PolicyStatement({ actions: ["sqs:*"], resources: [steps.queueArn] }));
        },
      },
    );
    const [awsSolutions] = nagPacks();
    let findings: string;
    try {
      findings = summarize(awsSolutions!.validateScope(bad.stack)).join("\n");
    } finally {
      bad.dispose();
    }
    expect(findings).toContain(
      "AwsSolutions-IAM5[Resource::*]: Switchboard-dev/Functions/WsRole/DefaultPolicy/Resource",
    );
    expect(findings).toContain(
      "AwsSolutions-IAM5[Action::sqs:*]: Switchboard-dev/Functions/SweeperRole/DefaultPolicy/Resource",
    );
  });
});
