import { describe, expect, it } from "vitest";
import { decide, endsFanOut } from "#shared/engine/engine";
import type { EngineEvent } from "#shared/engine/types";
import { at, failed, start, stepOf, succeeded } from "./fixtures.ts";

const fanOut = (extra: Record<string, unknown> = {}) => ({
  name: "fan",
  nodes: [
    { id: "each", type: "code", code: "return item", forEach: "{% $input.ids %}", ...extra },
    { id: "after", type: "code", dependsOn: ["each"], code: "return 1" },
  ],
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => i);

const ended = (chunk: number, count: number, extra: Partial<EngineEvent> = {}): EngineEvent =>
  ({ type: "itemsEnded", nodeId: "each", run: 1, chunk, ended: count, ...extra }) as EngineEvent;

describe("forEach chunk bookkeeping", () => {
  it("keeps per-chunk counters on the node's step, one per 100 items", async () => {
    const d = await start(fanOut(), { ids: ids(250) });

    expect(stepOf(d.state, "each")).toMatchObject({
      status: "running",
      items: 250,
      window: 250,
      started: 250,
      ended: [0, 0, 0],
    });
    expect(d.commands.filter((c) => c.type === "run")).toHaveLength(250);
  });

  it("starts only maxConcurrency items, and one more for each item that ends", async () => {
    const s0 = (await start(fanOut({ maxConcurrency: 3 }), { ids: ids(10) })).state;
    expect(stepOf(s0, "each")).toMatchObject({ window: 3, started: 3, ended: [0] });

    const d = await decide(s0, ended(0, 2), at(1));

    expect(stepOf(d.state, "each")).toMatchObject({ started: 5, ended: [2] });
    expect(d.commands).toEqual([
      { type: "run", nodeId: "each", itemIndex: 3, attempt: 1, delaySeconds: 0 },
      { type: "run", nodeId: "each", itemIndex: 4, attempt: 1, delaySeconds: 0 },
    ]);
  });

  it("merges counts by maximum, so a repeated or late report changes nothing", async () => {
    const s0 = (await start(fanOut({ maxConcurrency: 3 }), { ids: ids(10) })).state;
    const s1 = (await decide(s0, ended(0, 2), at(1))).state;

    for (const late of [ended(0, 2), ended(0, 1)]) {
      const d = await decide(s1, late, at(2));
      expect(d.changedSteps).toEqual([]);
      expect(d.commands).toEqual([]);
    }
  });

  it("ignores counts of an earlier run of the fan-out", async () => {
    const s0 = (await start(fanOut(), { ids: ids(3) })).state;

    const d = await decide(s0, ended(0, 3, { run: 7, outputs: [0, 1, 2] } as Partial<EngineEvent>), at(1));

    expect(d.changedSteps).toEqual([]);
    expect(stepOf(d.state, "each").status).toBe("running");
  });

  it("joins only with the outputs the last chunk's report carries", async () => {
    const s0 = (await start(fanOut(), { ids: ids(150) })).state;
    const s1 = (await decide(s0, ended(1, 50), at(1))).state;
    expect(endsFanOut(stepOf(s1, "each"), 0, 100)).toBe(true);
    expect(endsFanOut(stepOf(s1, "each"), 0, 99)).toBe(false);

    const outputs = ids(150).map((i) => i * 10);
    const d = await decide(s1, ended(0, 100, { outputs } as Partial<EngineEvent>), at(2));

    expect(stepOf(d.state, "each")).toMatchObject({ status: "succeeded", output: outputs });
    expect(d.commands).toEqual([{ type: "run", nodeId: "after", attempt: 1, delaySeconds: 0 }]);
  });

  it("fails the node and the job on a reported item failure", async () => {
    const s0 = (await start(fanOut(), { ids: ids(5) })).state;

    const d = await decide(
      s0,
      ended(0, 1, {
        failure: { itemIndex: 3, error: { code: "BOOM", message: "it broke" } },
      } as Partial<EngineEvent>),
      at(1),
    );

    expect(stepOf(d.state, "each")).toMatchObject({ status: "failed", error: { code: "BOOM" } });
    expect(d.state.status).toBe("failed");
    expect(d.state.error?.message).toContain("item 3 failed: it broke");
  });

  it("an item's own transition changes only that item, never the node or the job", async () => {
    const s0 = (await start(fanOut(), { ids: ids(3) })).state;

    const ok = await decide(s0, succeeded("each", "x", 1, 0), at(1));
    const bad = await decide(s0, failed("each", { itemIndex: 1, retryable: false }), at(1));

    for (const d of [ok, bad]) {
      expect(d.changedSteps.map((s) => s.itemIndex)).toHaveLength(1);
      expect(d.jobChanged).toBe(false);
      expect(stepOf(d.state, "each").status).toBe("running");
    }
    expect(stepOf(bad.state, "each", 1).status).toBe("failed");
  });

  it("takes 10,000 items and refuses more", async () => {
    const fine = await start(fanOut(), { ids: ids(10_000) });
    expect(stepOf(fine.state, "each")).toMatchObject({ status: "running", items: 10_000 });
    expect(stepOf(fine.state, "each").ended).toHaveLength(100);

    const over = await start(fanOut(), { ids: ids(10_001) });
    expect(stepOf(over.state, "each").error).toMatchObject({ code: "FOREACH_TOO_LARGE" });
  });
});
