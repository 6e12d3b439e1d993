import { describe, expect, it } from "vitest";
import { StepMessage } from "#events/steps";
import { stepMessagesFor } from "#shared/jobs/batches";
import { start } from "./engine/fixtures.ts";

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
