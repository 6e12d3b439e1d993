import { describe, expect, it } from "vitest";
import { StepMessage } from "#events/steps";
import { decide } from "#shared/engine/engine";
import { stepMessagesFor } from "#shared/jobs/batches";
import { at, newJob, start, stepOf, T0 } from "./engine/fixtures.ts";

const base = { v: 1, tenantId: "t", jobId: "j", nodeId: "each", attempt: 1 };

describe("batch step messages", () => {
  it("accepts items of one chunk and refuses a mix of chunks, repeats, or an itemIndex beside them", () => {
    expect(
      StepMessage.safeParse({
        ...base,
        items: [
          { i: 100, a: 1 },
          { i: 199, a: 2 },
        ],
      }).success,
    ).toBe(true);
    const refused = [
      {
        ...base,
        items: [
          { i: 99, a: 1 },
          { i: 100, a: 1 },
        ],
      },
      {
        ...base,
        items: [
          { i: 3, a: 1 },
          { i: 3, a: 1 },
        ],
      },
      { ...base, itemIndex: 3, items: [{ i: 3, a: 1 }] },
      { ...base, items: [] },
      { ...base, items: [{ i: 3, a: 0 }] },
    ];
    for (const message of refused)
      expect(StepMessage.safeParse(message).success, JSON.stringify(message)).toBe(false);
  });

  it("groups a fan-out's starting items per chunk; back-offs and other nodes keep their own messages", async () => {
    const d = await start(
      {
        name: "fan",
        nodes: [
          { id: "each", type: "code", code: "return item", forEach: "{% $input.ids %}" },
          { id: "ask", type: "approval", forEach: "{% $input.ids %}", message: "ok?" },
        ],
      },
      { ids: Array.from({ length: 250 }, (_, i) => i) },
    );
    const runs = d.commands.filter((c) => c.type === "run");
    expect(runs.filter((c) => c.nodeId === "each")).toHaveLength(250);
    const retry = { type: "run" as const, nodeId: "each", itemIndex: 7, attempt: 2, delaySeconds: 5 };
    const out = stepMessagesFor(d.state, [...runs, retry]);
    const batches = out.filter((o) => o.message.items !== undefined);
    expect(batches.map((o) => o.message.items?.map((item) => item.i))).toEqual([
      Array.from({ length: 100 }, (_, i) => i),
      Array.from({ length: 100 }, (_, i) => 100 + i),
      Array.from({ length: 50 }, (_, i) => 200 + i),
    ]);
    for (const batch of batches) {
      expect(StepMessage.parse(batch.message)).toEqual(batch.message);
      expect(batch.delaySeconds).toBe(0);
      expect(batch.message.itemIndex).toBeUndefined();
    }
    const single = out.filter((o) => o.message.items === undefined);
    expect(single).toEqual([
      {
        message: { ...base, tenantId: "tenant-1", jobId: "job-1", itemIndex: 7, attempt: 2 },
        delaySeconds: 5,
      },
    ]);
  });

  it("sends a lone starting item of a chunk as an ordinary message", async () => {
    const d = await start(
      {
        name: "fan",
        nodes: [{ id: "each", type: "code", code: "return item", forEach: "{% $input.ids %}" }],
      },
      { ids: [1] },
    );
    const out = stepMessagesFor(
      d.state,
      d.commands.filter((c) => c.type === "run"),
    );
    expect(out).toEqual([
      { message: { ...base, tenantId: "tenant-1", jobId: "job-1", itemIndex: 0 }, delaySeconds: 0 },
    ]);
  });
});

describe("a wide first fan-out deferred to a worker", () => {
  const wide = {
    name: "fan",
    nodes: [{ id: "each", type: "code", code: "return item", forEach: "{% $input.ids %}" }],
  };
  const job = (n: number) => newJob(wide, { ids: Array.from({ length: n }, (_, i) => i) });

  it("queues the node's own step, with a fan-out message, and writes no item", async () => {
    const d = await decide(job(250), { type: "start" }, T0, { deferWideFanOut: true });
    expect(d.state.status).toBe("queued");
    expect(stepOf(d.state, "each")).toMatchObject({ status: "queued", attempt: 1 });
    expect(d.changedSteps.map((s) => s.itemIndex)).toEqual([undefined]);
    expect(d.commands).toEqual([{ type: "run", nodeId: "each", attempt: 1, delaySeconds: 0 }]);
    expect(stepMessagesFor(d.state, d.commands as never)).toEqual([
      {
        message: { v: 1, tenantId: "tenant-1", jobId: "job-1", nodeId: "each", attempt: 1, fanOut: true },
        delaySeconds: 0,
      },
    ]);
    // A claim (an old or unflagged message) cannot run the node's own step as if it were a code step.
    const claim = await decide(
      d.state,
      { type: "claim", nodeId: "each", attempt: 1, leaseSeconds: 60 },
      at(1),
    );
    expect(claim.changedSteps).toEqual([]);
  });

  it("fans out on `fanOut` as the same run, once", async () => {
    const queued = (await decide(job(250), { type: "start" }, T0, { deferWideFanOut: true })).state;
    const d = await decide(queued, { type: "fanOut", nodeId: "each", attempt: 1 }, at(1));
    expect(d.state.status).toBe("running");
    expect(stepOf(d.state, "each")).toMatchObject({
      status: "running",
      attempt: 1,
      items: 250,
      started: 250,
    });
    expect(d.commands.filter((c) => c.type === "run")).toHaveLength(250);
    expect(stepMessagesFor(d.state, d.commands as never).map((o) => o.message.items?.length)).toEqual([
      100, 100, 50,
    ]);
    for (const stale of [
      { type: "fanOut" as const, nodeId: "each", attempt: 1 },
      { type: "fanOut" as const, nodeId: "each", attempt: 2 },
    ]) {
      const again = await decide(d.state, stale, at(2));
      expect(again.changedSteps).toEqual([]);
      expect(again.commands).toEqual([]);
    }
    expect(
      (await decide(queued, { type: "fanOut", nodeId: "each", attempt: 2 }, at(1))).changedSteps,
    ).toEqual([]);
  });

  it("fans out a single chunk at once, as before", async () => {
    const d = await decide(job(100), { type: "start" }, T0, { deferWideFanOut: true });
    expect(stepOf(d.state, "each")).toMatchObject({ status: "running", items: 100 });
    expect(d.commands.filter((c) => c.type === "run")).toHaveLength(100);
  });
});
