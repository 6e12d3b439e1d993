import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processStepMessage } from "#shared/jobs/worker";
import { addSdkHook } from "../bench/sdk-hooks.ts";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

let platform: Platform;

beforeAll(async () => {
  // The workers' pure chains: no step runs at the job's start (that path is test/integration/start-chain.test.ts).
  platform = await startPlatform({ startChainMs: 0 });
});

afterAll(async () => {
  await platform?.stop();
});

const chain = (name: string, steps: number, code = "return (input.n ?? 0) + 1") => ({
  name,
  nodes: Array.from({ length: steps }, (_, i) => ({
    id: `s${i + 1}`,
    type: "code" as const,
    code,
    input: i === 0 ? { n: "{% $input.n %}" } : { n: `{% $steps.s${i}.output %}` },
    ...(i === 0 ? {} : { dependsOn: [`s${i}`] }),
  })),
  output: `{% $steps.s${steps}.output %}`,
});

/** Every write of a job item: the statuses of its steps as written. */
function jobWrites(): { writes: Record<string, string>[]; stop: () => void } {
  const writes: Record<string, string>[] = [];
  const stop = addSdkHook("pure-chain-writes", async (call, next) => {
    const raw = (call.input as { Item?: Record<string, unknown> }).Item;
    if (call.commandName === "PutItemCommand" && raw !== undefined) {
      const item = (raw.pk as { S?: string } | undefined)?.S === undefined ? raw : unmarshall(raw as never);
      if (item.type === "job")
        writes.push(
          Object.fromEntries(
            Object.entries((item.steps ?? {}) as Record<string, { s: string }>).map(([k, v]) => [k, v.s]),
          ),
        );
    }
    return next();
  });
  return { writes, stop };
}

type Event = { type: string; seq: number; nodeId?: string; status: string; previousStatus?: string };

describe("pure code steps", () => {
  it("run without a written claim, and the timeline still shows every move in order", async () => {
    const { writes, stop } = jobWrites();
    let jobId: string;
    try {
      const submitted = await platform.api("POST", "/v1/jobs", {
        workflow: chain("pure", 5),
        input: { n: 1 },
      });
      expect(submitted.status).toBe(202);
      jobId = submitted.body.id;
      const job = await waitForJob(platform, jobId, ["succeeded", "failed"]);
      expect(job).toMatchObject({ status: "succeeded", output: 6 });
    } finally {
      stop();
    }
    // The worker never wrote a code step as running: each commit records results (a chain of them).
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.flatMap((steps) => Object.values(steps))).not.toContain("running");
    const events = (await platform.api("GET", `/v1/jobs/${jobId}/events`)).body.items as Event[];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const moves = events.map((e) =>
      e.type === "job.status_changed"
        ? `job:${e.previousStatus ?? "-"}>${e.status}`
        : `${e.nodeId}:${e.previousStatus ?? "-"}>${e.status}`,
    );
    for (let i = 1; i <= 5; i++) {
      // After the job's creation, which shows s1 queued and the others pending.
      const mine = moves.filter((m) => m.startsWith(`s${i}:`) && !m.includes(":->"));
      expect(mine).toEqual([
        ...(i === 1 ? [] : [`s${i}:pending>queued`]),
        `s${i}:queued>running`,
        `s${i}:running>succeeded`,
      ]);
    }
    const jobMoves = moves.filter((m) => m.startsWith("job:"));
    expect(jobMoves).toEqual(["job:->queued", "job:queued>running", "job:running>succeeded"]);
    expect(moves.indexOf("job:queued>running")).toBe(moves.indexOf("s1:queued>running") + 1);
  });

  it("records a step once when its message is delivered several times at once", async () => {
    // A step that waits for a while in the sandbox, so the copies overlap; its output differs per run.
    const workflow = {
      name: "pure-duplicates",
      nodes: [
        {
          id: "slow",
          type: "code" as const,
          code: "const end = Date.now() + 300; while (Date.now() < end) {} return Math.random()",
        },
      ],
      output: "{% $steps.slow.output %}",
    };
    const submitted = await platform.api("POST", "/v1/jobs", { workflow, input: {} });
    const jobId = submitted.body.id as string;
    const message = { v: 1 as const, tenantId: "default", jobId, nodeId: "slow", attempt: 1 };
    await Promise.all(Array.from({ length: 3 }, () => processStepMessage(message)));
    const job = await waitForJob(platform, jobId, ["succeeded", "failed"]);
    expect(job.status).toBe("succeeded");
    const events = (await platform.api("GET", `/v1/jobs/${jobId}/events`)).body.items as (Event & {
      output?: unknown;
    })[];
    const results = events.filter((e) => e.type === "step.status_changed" && e.status === "succeeded");
    expect(results).toHaveLength(1);
    expect(results[0]?.output).toBe(job.output);
    expect(job.steps).toEqual([expect.objectContaining({ nodeId: "slow", attempt: 1, output: job.output })]);
  });
});
