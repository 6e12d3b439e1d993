import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { TimelineEvent } from "#events/timeline";
import { pageEvents, writeTimelinePage } from "#shared/stores/jobs/timeline";

const ddb = mockClient(DynamoDBDocumentClient);

beforeAll(() => {
  process.env.TABLE_NAME ??= "table";
});

beforeEach(() => {
  ddb.reset();
  ddb.on(PutCommand).resolves({});
});

/** The events of a 5-step chain: three moves per step and the job's own two. */
function chainEvents(): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  let seq = 0;
  const at = "2026-12-02T05:00:00.000Z";
  for (let i = 1; i <= 5; i++) {
    for (const [previousStatus, status] of [
      ["pending", "queued"],
      ["queued", "running"],
      ["running", "succeeded"],
    ] as const)
      events.push({
        type: "step.status_changed",
        jobId: "j_01m8tj2jfgzhcxv2crnb3b114c",
        seq: ++seq,
        at,
        nodeId: `step${i}`,
        status,
        previousStatus,
        attempt: 1,
        ...(status === "succeeded" ? { output: { value: i * 10, label: `step ${i} done` } } : {}),
      } as TimelineEvent);
  }
  events.push({
    type: "job.status_changed",
    jobId: "j_01m8tj2jfgzhcxv2crnb3b114c",
    seq: ++seq,
    at,
    status: "succeeded",
    previousStatus: "running",
  } as TimelineEvent);
  return events;
}

describe("timeline pages", () => {
  it("stores a page's events compressed when that is smaller, and reads them back as written", async () => {
    const events = chainEvents();
    await writeTimelinePage("default", "j_01m8tj2jfgzhcxv2crnb3b114c", events);
    const item = ddb.commandCalls(PutCommand)[0]?.args[0].input.Item as Record<string, unknown>;
    expect(item.events).toBeUndefined();
    expect(item.z).toBeInstanceOf(Uint8Array);
    const plain = Buffer.byteLength(JSON.stringify(events));
    // Billed per KB: the plain page takes several, the packed one fits in one.
    expect(plain).toBeGreaterThan(2048);
    expect((item.z as Uint8Array).length).toBeLessThan(1024 - 200);
    expect(pageEvents(item)).toEqual(events);
    // As a Lambda gets it from a stream record (JSON): the binary attribute is base64.
    expect(pageEvents({ ...item, z: Buffer.from(item.z as Uint8Array).toString("base64") })).toEqual(events);
    expect(item).toMatchObject({ type: "timelinePage", from: 1, seq: events.length });
  });

  it("reads pages stored before compression, and an approval's own event item", () => {
    const [one, two] = chainEvents();
    expect(pageEvents({ type: "timelinePage", events: [one, two] })).toEqual([one, two]);
    expect(pageEvents({ event: one })).toEqual([one]);
    expect(pageEvents({})).toEqual([]);
  });
});
