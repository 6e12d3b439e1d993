import { describe, expect, it } from "vitest";
import type { Step } from "#events/jobs";
import type { TimelineEvent } from "#events/timeline";
import { stepTiming, waterfallRows } from "../../web/src/lib/step-timing.ts";
import { withTokens } from "../../web/src/lib/streamed-text.ts";

const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();
const ms = (s: number) => Date.parse(at(s));

function changed(
  seq: number,
  nodeId: string,
  status: Step["status"],
  second: number,
  attempt = 1,
): TimelineEvent {
  return { type: "step.status_changed", jobId: "j", seq, at: at(second), nodeId, status, attempt };
}

describe("step timing", () => {
  it("ends a reviewed agent's run when it began waiting for a person, not when the person decided", () => {
    const step: Step = {
      nodeId: "ask",
      type: "agent",
      status: "succeeded",
      attempt: 1,
      queuedAt: at(0),
      startedAt: at(1),
      endedAt: at(60),
    };
    const events = [
      changed(1, "ask", "running", 1),
      changed(2, "ask", "waiting_approval", 2),
      changed(3, "ask", "succeeded", 60),
    ];

    const timing = stepTiming(step, events);

    expect(timing).toMatchObject({ ranMs: 1000, pausedMs: 58_000, pausedFor: "person", pausedAt: ms(2) });
  });

  it("counts an approval node's whole time as the person's, and a plain step's as its run", () => {
    const approval: Step = {
      nodeId: "gate",
      type: "approval",
      status: "succeeded",
      attempt: 1,
      startedAt: at(5),
      endedAt: at(35),
    };
    const code: Step = {
      nodeId: "calc",
      type: "code",
      status: "succeeded",
      attempt: 1,
      startedAt: at(5),
      endedAt: at(7),
    };

    expect(stepTiming(approval, [])).toMatchObject({ ranMs: 0, pausedMs: 30_000, pausedFor: "person" });
    expect(stepTiming(code, [])).toMatchObject({ ranMs: 2000, pausedMs: undefined });
  });

  it("ignores a wait of an earlier attempt, and measures a running step to now", () => {
    const step: Step = { nodeId: "ask", type: "agent", status: "running", attempt: 2, startedAt: at(10) };
    const events = [changed(1, "ask", "waiting_approval", 3, 1)];

    expect(stepTiming(step, events, ms(14))).toMatchObject({ ranMs: 4000, pausedAt: undefined });
  });

  it("sums a forEach's items into one row, in the workflow's order", () => {
    const steps: Step[] = [
      {
        nodeId: "each",
        type: "code",
        status: "succeeded",
        attempt: 1,
        items: 2,
        startedAt: at(1),
        endedAt: at(9),
      },
      {
        nodeId: "each",
        itemIndex: 0,
        type: "code",
        status: "succeeded",
        attempt: 1,
        startedAt: at(2),
        endedAt: at(4),
      },
      {
        nodeId: "each",
        itemIndex: 1,
        type: "code",
        status: "succeeded",
        attempt: 1,
        startedAt: at(3),
        endedAt: at(8),
      },
      { nodeId: "first", type: "code", status: "succeeded", attempt: 1, startedAt: at(0), endedAt: at(1) },
    ];

    const rows = waterfallRows(["first", "each"], steps, []);

    expect(rows.map((r) => r.nodeId)).toEqual(["first", "each"]);
    expect(rows[1]).toMatchObject({
      items: { total: 2, done: 2 },
      startedAt: ms(2),
      endedAt: ms(9),
      ranMs: 7000,
    });
  });
});

describe("streamed text", () => {
  it("takes the catch-up text in place of what it had, and appends by offset after it", () => {
    let text = withTokens(undefined, { text: "lo, wor", offset: 3 });
    expect(text).toEqual({ start: 3, text: "lo, wor" });
    text = withTokens(text, { text: "Hello, wor", offset: 0 });
    expect(text).toEqual({ start: 0, text: "Hello, wor" });
    text = withTokens(text, { text: "ld", offset: 10 });
    expect(text.text).toBe("Hello, world");
    expect(withTokens({ start: 0, text: "ab" }, { text: "c" }).text).toBe("abc");
  });
});
