/**
 * The job lists over their sharded partitions (merged newest first, paged) and the live channel's cost when
 * nobody listens, on the twin, with every SDK request counted by the bench's meter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Meter } from "../bench/meter.ts";
import { type Platform, SocketClient, startPlatform, waitForJob } from "../support/platform.ts";

let platform: Platform;
let meter: Meter;

beforeAll(async () => {
  meter = new Meter().install();
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
  meter?.uninstall();
});

const quick = (name: string) => ({ name, nodes: [{ id: "only", type: "code", code: "return 1" }] });

async function pageAll(path: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page = await platform.api<{ items: { id: string; createdAt: string }[]; cursor?: string }>(
      "GET",
      `${path}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
    );
    expect(page.status).toBe(200);
    ids.push(...page.body.items.map((job) => job.id));
    cursor = page.body.cursor;
    pages++;
  } while (cursor !== undefined && pages < 100);
  return { ids, pages };
}

/** Every job id of the listing newest first: createdAt, then id, descending. */
const newestFirst = (jobs: { id: string; createdAt: string }[]) =>
  [...jobs]
    .sort((a, b) => `${b.createdAt}#${b.id}`.localeCompare(`${a.createdAt}#${a.id}`))
    .map((job) => job.id);

describe("job lists over sharded partitions", () => {
  it("pages every job exactly once, newest first, for the whole list, a status and a workflow", async () => {
    const created = await platform.api<{ id: string }>("POST", "/v1/workflows", quick("listed"));
    expect(created.status).toBe(201);
    const workflowId = created.body.id;
    const jobs: { id: string; createdAt: string }[] = [];
    for (let i = 0; i < 14; i++) {
      const body = i % 2 === 0 ? { workflowId } : { workflow: quick(`inline-${i}`) };
      const { body: ref } = await platform.api<{ jobId: string }>("POST", "/v1/jobs", body);
      const job = await waitForJob(platform, ref.jobId, ["succeeded"]);
      jobs.push({ id: job.id, createdAt: job.createdAt });
    }
    const fromWorkflow = jobs.filter((_, i) => i % 2 === 0);
    // The summaries follow the jobs through the change stream; wait until the lists say succeeded.
    const deadline = Date.now() + 20_000;
    let succeeded = await pageAll("/v1/jobs?status=succeeded", 3);
    while (jobs.some((job) => !succeeded.ids.includes(job.id)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      succeeded = await pageAll("/v1/jobs?status=succeeded", 3);
    }
    expect(succeeded.ids).toEqual(newestFirst(jobs));
    expect(succeeded.pages).toBeGreaterThanOrEqual(5);

    const all = await pageAll("/v1/jobs", 4);
    expect(all.ids).toEqual(newestFirst(jobs));
    const byWorkflow = await pageAll(`/v1/jobs?workflowId=${workflowId}`, 2);
    expect(byWorkflow.ids).toEqual(newestFirst(fromWorkflow));
    // Both filters: the status list filtered by workflow, pages possibly short, never a job twice or lost.
    const both = await pageAll(`/v1/jobs?status=succeeded&workflowId=${workflowId}`, 2);
    expect(both.ids).toEqual(newestFirst(fromWorkflow));
    expect(await pageAll("/v1/jobs?status=running", 5)).toEqual({ ids: [], pages: 1 });
  });

  it("refuses a cursor of another list", async () => {
    for (let i = 0; i < 3; i++) await platform.api("POST", "/v1/jobs", { workflow: quick(`c-${i}`) });
    const first = await platform.api<{ cursor?: string }>("GET", "/v1/jobs?limit=1");
    expect(first.body.cursor).toEqual(expect.any(String));
    const other = await platform.api<{ code: string }>(
      "GET",
      `/v1/jobs?status=queued&limit=1&cursor=${first.body.cursor}`,
    );
    expect(other.status).toBe(400);
    expect(other.body.code).toBe("BAD_REQUEST");
  });
});

describe("live channel cost", () => {
  /** Runs one 1-step job with the meter on and returns the requests its window made, by source and call. */
  async function meteredJob(): Promise<Record<string, number>> {
    await new Promise((r) => setTimeout(r, 1_500));
    meter.reset();
    meter.active = true;
    try {
      const { body } = await platform.api<{ jobId: string }>("POST", "/v1/jobs", {
        workflow: quick("alone"),
      });
      await waitForJob(platform, body.jobId, ["succeeded"]);
      const until = Date.now() + 8_000;
      // The stream consumer runs after the job ends (a batching window later): wait for its page.
      while (Date.now() < until && !((meter.snapshot().calls["fanout DynamoDB.PutItem"] ?? 0) > 0)) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const quietSince = Date.now();
      while (Date.now() - Math.max(quietSince, meter.lastCallAt) < 1_500 && Date.now() < until + 5_000) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      meter.active = false;
    }
    return meter.snapshot().calls;
  }

  it("makes no subscriber lookups for a job when nobody is subscribed, and finds a subscriber again", async () => {
    const alone = await meteredJob();
    expect(alone["fanout DynamoDB.PutItem"]).toBeGreaterThan(0);
    expect(alone["fanout DynamoDB.Query"] ?? 0).toBe(0);

    const socket = await SocketClient.open(platform.wsUrl, platform.token);
    socket.send({ action: "subscribe", all: true, batch: true });
    await socket.waitFor((m) => m.type === "subscribed" && m.all === true);
    const { body } = await platform.api<{ jobId: string }>("POST", "/v1/jobs", {
      workflow: quick("watched"),
    });
    const frame = await socket.waitFor(
      (m) =>
        m.type === "batch" &&
        m.jobId === body.jobId &&
        m.events.some((e: any) => e.type === "job.status_changed" && e.status === "succeeded"),
    );
    expect(frame.events.map((e: any) => e.seq)).toEqual(
      frame.events.map((_: unknown, i: number) => frame.events[0].seq + i),
    );
    socket.send({ action: "unsubscribe", all: true });
    await socket.waitFor((m) => m.type === "unsubscribed");

    // Unsubscribed, and the connection still open: nobody listens again, so no lookups again.
    const afterwards = await meteredJob();
    expect(afterwards["fanout DynamoDB.Query"] ?? 0).toBe(0);
    await socket.close();
  });
});
