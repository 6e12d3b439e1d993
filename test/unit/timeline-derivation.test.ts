import { describe, expect, it } from "vitest";
import { type ImageStep, type JobImage, timelineOf } from "#shared/jobs/timeline";

const step = (nodeId: string, status: ImageStep["status"], attempt = 1, extra: Partial<ImageStep> = {}) => ({
  nodeId,
  status,
  attempt,
  ...extra,
});

function image(steps: ImageStep[], extra: Partial<JobImage> = {}): JobImage {
  return {
    status: "running",
    nodes: ["a", "b", "c"],
    steps: Object.fromEntries(steps.map((s) => [s.nodeId, s])),
    version: 2,
    seq: 0,
    ...extra,
  };
}

const moves = (events: ReturnType<typeof timelineOf>) =>
  events.map((e) =>
    e.type === "step.status_changed"
      ? `${e.nodeId}/${e.attempt}:${e.previousStatus ?? "-"}>${e.status}`
      : e.type === "job.status_changed"
        ? `job:${e.previousStatus ?? "-"}>${e.status}`
        : e.type,
  );

describe("timeline of a commit that ran pure steps in memory", () => {
  it("shows queued, running and succeeded for each step of a chain, in order", () => {
    const before = image([step("a", "queued"), step("b", "pending"), step("c", "pending")], {
      status: "queued",
      version: 1,
    });
    const after = image(
      [
        step("a", "succeeded", 1, { output: 1 }),
        step("b", "succeeded", 1, { output: 2 }),
        step("c", "queued"),
      ],
      {
        ran: [
          ["a", 1],
          ["b", 1],
        ],
        tlv: 2,
      },
    );
    const events = timelineOf(before, after);
    expect(moves(events)).toEqual([
      "a/1:queued>running",
      "job:queued>running",
      "a/1:running>succeeded",
      "b/1:pending>queued",
      "b/1:queued>running",
      "b/1:running>succeeded",
      "c/1:pending>queued",
    ]);
    expect(events[2]).toMatchObject({ output: 1 });
  });

  it("starts the job with its first step's run and ends it after the last step", () => {
    const before = image([step("a", "queued")], { nodes: ["a"], status: "queued", version: 1 });
    const after = image([step("a", "succeeded", 1, { output: 2 })], {
      nodes: ["a"],
      status: "succeeded",
      output: 2,
      ran: [["a", 1]],
      tlv: 2,
    });
    expect(moves(timelineOf(before, after))).toEqual([
      "a/1:queued>running",
      "job:queued>running",
      "a/1:running>succeeded",
      "job:running>succeeded",
    ]);
  });

  it("shows a retried attempt going back to the queue, and a second attempt run in the same commit", () => {
    const before = image([step("a", "queued")], { nodes: ["a"], version: 1 });
    const requeued = image([step("a", "queued", 2)], { nodes: ["a"], ran: [["a", 1]], tlv: 2 });
    expect(moves(timelineOf(before, requeued))).toEqual(["a/1:queued>running", "a/2:running>queued"]);
    const twice = image([step("a", "failed", 2, { error: { code: "X", message: "x" } })], {
      nodes: ["a"],
      ran: [
        ["a", 1],
        ["a", 2],
      ],
      tlv: 2,
    });
    const events = timelineOf(before, twice);
    expect(moves(events)).toEqual([
      "a/1:queued>running",
      "a/2:running>queued",
      "a/2:queued>running",
      "a/2:running>failed",
    ]);
    expect(events[3]).toMatchObject({ error: { code: "X" } });
  });

  it("ignores the attempts of an older commit (its `tlv` is not this version)", () => {
    const before = image([step("a", "waiting")], { nodes: ["a"], version: 1 });
    const after = image([step("a", "succeeded")], { nodes: ["a"], ran: [["a", 1]], tlv: 1 });
    expect(moves(timelineOf(before, after))).toEqual(["a/1:waiting>succeeded"]);
  });
});
