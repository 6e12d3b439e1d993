import middy from "@middy/core";
import type { Context, SQSEvent } from "aws-lambda";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Decision, JobState, StepState } from "#shared/engine/types";

const context = {
  functionName: "worker",
  awsRequestId: "r",
  getRemainingTimeInMillis: () => 120_000,
} as Context;

let jobMetrics: typeof import("#shared/jobs/service").jobMetrics;
let observability: typeof import("#shared/observability");

beforeAll(async () => {
  vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
  vi.stubEnv("TABLE_NAME", "table");
  vi.stubEnv("AWS_REGION", "us-east-1");
  ({ jobMetrics } = await import("#shared/jobs/service"));
  observability = await import("#shared/observability");
});

afterEach(() => {
  vi.restoreAllMocks();
});

const T0 = "2026-01-01T00:00:00.000Z";

function state(status: JobState["status"], steps: StepState[]): JobState {
  return {
    jobId: "j_1",
    tenantId: "t",
    status,
    definition: { name: "w", nodes: [{ id: "a", type: "code", code: "return 1" }] } as JobState["definition"],
    input: {},
    steps: Object.fromEntries(steps.map((step) => [step.nodeId, step])),
    createdAt: T0,
  };
}

function decision(after: JobState, changedSteps: StepState[]): Decision {
  return { state: after, changedSteps, jobChanged: true, commands: [], notes: [] };
}

const running: StepState = { nodeId: "a", status: "running", attempt: 1, startedAt: T0 };
const at = new Date(Date.parse(T0) + 1_500);

/** The EMF documents written to stdout while `run` ran. */
async function emfOf(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  await run();
  return lines
    .flatMap((chunk) => chunk.split("\n"))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("job metrics from a decision", () => {
  it("counts a success and times the step that ended", () => {
    const done: StepState = { ...running, status: "succeeded", endedAt: at.toISOString() };
    const metrics = jobMetrics(state("running", [running]), decision(state("succeeded", [done]), [done]), at);
    expect(metrics).toEqual([
      { name: "JobsSucceeded", unit: "Count", value: 1 },
      { name: "StepDuration", unit: "Milliseconds", value: 1_500 },
    ]);
  });

  it("counts failed and timed-out jobs as failed, and a cancelled one not at all", () => {
    const failed = jobMetrics(state("running", []), decision(state("failed", []), []), at);
    const timedOut = jobMetrics(state("waiting", []), decision(state("timed_out", []), []), at);
    const cancelled = jobMetrics(state("running", []), decision(state("cancelled", []), []), at);
    expect(failed).toEqual([{ name: "JobsFailed", unit: "Count", value: 1 }]);
    expect(timedOut).toEqual([{ name: "JobsFailed", unit: "Count", value: 1 }]);
    expect(cancelled).toEqual([]);
  });

  it("times an attempt that a retry puts back in the queue, and not a claim or a lease renewal", () => {
    const requeued: StepState = { nodeId: "a", status: "queued", attempt: 2 };
    const retried = jobMetrics(
      state("running", [running]),
      decision(state("running", [requeued]), [requeued]),
      at,
    );
    expect(retried).toEqual([{ name: "StepDuration", unit: "Milliseconds", value: 1_500 }]);

    const queued: StepState = { nodeId: "a", status: "queued", attempt: 1 };
    const claim = jobMetrics(state("queued", [queued]), decision(state("running", [running]), [running]), at);
    expect(claim).toEqual([]);
    const renewed: StepState = { ...running, leaseUntil: at.toISOString() };
    expect(
      jobMetrics(state("running", [running]), decision(state("running", [renewed]), [renewed]), at),
    ).toEqual([]);
  });
});

describe("metrics middleware", () => {
  it("publishes what an invocation recorded as one EMF document", async () => {
    const { metrics, publishMetrics } = observability;
    const handler = middy(async () => {
      metrics.addMetric("JobsStarted", "Count", 1);
      return "ok";
    }).use(publishMetrics());

    const emf = await emfOf(() => handler({}, context));
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ service: "switchboard", JobsStarted: 1 });
    expect(JSON.stringify(emf[0]?._aws)).toContain('"Namespace":"Switchboard"');
  });

  it("writes nothing, not even Powertools' empty-metrics warning, for an invocation without metrics", async () => {
    const warnings = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const handler = middy(async () => "ok").use(observability.publishMetrics());

    expect(await emfOf(() => handler({}, context))).toEqual([]);
    expect(warnings).not.toHaveBeenCalled();
  });

  it("gives the worker's queue lag from the record's send time, on a first receive only", async () => {
    const { handler } = await import("#functions/queues/steps");
    const record = (receives: string, sentAgoMs: number) => ({
      messageId: `m-${receives}`,
      receiptHandle: "h",
      // Malformed on purpose: the worker drops it without touching any AWS service.
      body: "not a step message",
      attributes: {
        ApproximateReceiveCount: receives,
        SentTimestamp: String(Date.now() - sentAgoMs),
        SenderId: "s",
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:steps",
      awsRegion: "us-east-1",
    });
    const event = { Records: [record("1", 400), record("3", 60_000)] } as SQSEvent;
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);

    const emf = await emfOf(() => handler(event, context));
    const lag = emf.find((document) => "QueueLag" in document)?.QueueLag;
    expect(lag).toEqual(expect.any(Number));
    expect(lag as number).toBeGreaterThanOrEqual(400);
    expect(lag as number).toBeLessThan(60_000);
  });
});
