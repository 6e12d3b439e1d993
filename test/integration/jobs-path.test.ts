import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, request, SocketClient, startPlatform, waitForJob } from "../support/platform.ts";

const doubling = {
  name: "double",
  nodes: [
    {
      id: "double",
      type: "code",
      input: { n: "{% $input.n %}", label: "n is {% $input.n %}" },
      code: "return { doubled: input.n * 2, label: input.label }",
    },
  ],
  output: { result: "{% $steps.double.output.doubled %}" },
};

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

describe("one job's whole path on the twin", () => {
  it("runs a submitted code job and streams its status changes over the WebSocket", async () => {
    const socket = await SocketClient.open(platform.wsUrl, platform.token);
    socket.send({ action: "subscribe", all: true });
    await socket.waitFor((m) => m.type === "subscribed" && m.all === true);

    const submitted = await platform.api("POST", "/v1/jobs", { workflow: doubling, input: { n: 21 } });
    expect(submitted.status).toBe(202);
    expect(submitted.body).toEqual({
      id: expect.stringMatching(/^j_/),
      jobId: submitted.body.id,
      status: "queued",
    });
    const { jobId } = submitted.body;

    const done = await socket.waitFor(
      (m) => m.type === "job.status_changed" && m.jobId === jobId && m.status === "succeeded",
    );
    expect(done.previousStatus).toBe("running");
    const stepDone = socket.messages.find(
      (m) => m.type === "step.status_changed" && m.jobId === jobId && m.status === "succeeded",
    );
    expect(stepDone).toMatchObject({
      nodeId: "double",
      attempt: 1,
      output: { doubled: 42, label: "n is 21" },
    });

    // Sequence numbers are per job, increasing, with no gaps.
    const seqs = socket.messages.filter((m) => m.jobId === jobId).map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));

    const job = await platform.api("GET", `/v1/jobs/${jobId}`);
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({
      id: jobId,
      status: "succeeded",
      workflowName: "double",
      input: { n: 21 },
      output: { result: 42 },
      steps: [
        { nodeId: "double", status: "succeeded", attempt: 1, output: { doubled: 42, label: "n is 21" } },
      ],
    });
    await socket.close();
  });

  it("lists jobs newest first, with a cursor", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { body } = await platform.api("POST", "/v1/jobs", { workflow: doubling, input: { n: i } });
      ids.push(body.jobId);
    }
    const first = await platform.api("GET", "/v1/jobs?limit=2");
    expect(first.status).toBe(200);
    expect(first.body.items.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.cursor).toEqual(expect.any(String));
    const second = await platform.api("GET", `/v1/jobs?limit=2&cursor=${first.body.cursor}`);
    expect(second.body.items[0].id).toBe(ids[0]);
    const bad = await platform.api("GET", "/v1/jobs?cursor=garbage");
    expect(bad.status).toBe(400);
  });

  it("replays what a reconnecting client missed, then goes on live", async () => {
    const { body } = await platform.api("POST", "/v1/jobs", { workflow: doubling, input: { n: 5 } });
    await waitForJob(platform, body.jobId, ["succeeded"]);
    const events = await platform.api("GET", `/v1/jobs/${body.jobId}/events`);
    expect(events.status).toBe(200);
    const all = events.body.items;
    expect(all.length).toBeGreaterThanOrEqual(4);

    // A client that saw the first two events reconnects and asks for the rest.
    const socket = await SocketClient.open(platform.wsUrl, platform.token);
    socket.send({ action: "subscribe", jobId: body.jobId, since: 2 });
    const last = all.at(-1);
    await socket.waitFor((m) => m.jobId === body.jobId && m.seq === last.seq && m.type !== "subscribed");
    const replayed = socket.messages.filter((m) => m.type !== "subscribed").map((m) => m.seq);
    expect(replayed).toEqual(
      all.filter((e: { seq: number }) => e.seq > 2).map((e: { seq: number }) => e.seq),
    );
    await socket.close();
  });

  it("coalesces live events into batch frames for a batch subscriber, one event per frame for the others", async () => {
    const { body } = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "batched",
        nodes: [
          { id: "pause", type: "wait", seconds: 1 },
          { id: "a", type: "code", dependsOn: ["pause"], code: "return 1" },
          { id: "b", type: "code", dependsOn: ["a"], code: "return 2" },
        ],
      },
    });
    const batched = await SocketClient.open(platform.wsUrl, platform.token);
    const plain = await SocketClient.open(platform.wsUrl, platform.token);
    batched.send({ action: "subscribe", jobId: body.jobId, since: 0, batch: true });
    plain.send({ action: "subscribe", jobId: body.jobId, since: 0 });
    const done = (m: any) => m.type === "job.status_changed" && m.status === "succeeded";
    await plain.waitFor((m) => m.jobId === body.jobId && done(m));
    await batched.waitFor((m) => done(m) || (m.type === "batch" && m.events.some((e: any) => done(e))));
    const seqsOf = (messages: any[]) =>
      messages
        .flatMap((m) => (m.type === "batch" ? m.events : [m]))
        .filter((m) => m.jobId === body.jobId && typeof m.seq === "number" && m.type !== "subscribed")
        .map((m) => m.seq);
    const frames = batched.messages.filter((m) => m.type === "batch");
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((f) => f.jobId === body.jobId && f.events.length >= 1)).toBe(true);
    // Some stream batch carried more than one event of the job (a result and the next step's claim).
    expect(frames.some((f) => f.events.length > 1)).toBe(true);
    expect(plain.messages.some((m) => m.type === "batch")).toBe(false);
    const all = (await platform.api("GET", `/v1/jobs/${body.jobId}/events`)).body.items.map(
      (e: any) => e.seq,
    );
    expect([...new Set(seqsOf(batched.messages))].sort((x, y) => x - y)).toEqual(all);
    expect([...new Set(seqsOf(plain.messages))].sort((x, y) => x - y)).toEqual(all);
    await batched.close();
    await plain.close();
  });

  it("fails a job whose code throws, with the error on the step", async () => {
    const { body } = await platform.api("POST", "/v1/jobs", {
      workflow: { name: "boom", nodes: [{ id: "a", type: "code", code: "throw new Error('nope')" }] },
    });
    const job = await waitForJob(platform, body.jobId, ["failed"]);
    expect(job.steps[0]).toMatchObject({ status: "failed", error: { code: "CODE_ERROR" } });
    expect(job.steps[0].error.message).toContain("nope");
  });

  it("answers errors with the contract's body", async () => {
    const unauthenticated = await request(platform.url, "GET", "/v1/jobs");
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.body).toMatchObject({ code: "UNAUTHORIZED", requestId: expect.any(String) });

    const badToken = await request(platform.url, "GET", "/v1/jobs", undefined, {
      authorization: "Bearer nope",
    });
    expect(badToken.status).toBe(401);

    const missing = await platform.api("GET", "/v1/jobs/j_doesnotexist");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: "NOT_FOUND", requestId: expect.any(String) });

    const malformed = await platform.api("POST", "/v1/jobs", "{oops");
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe("BAD_REQUEST");

    const invalid = await platform.api("POST", "/v1/jobs", { workflow: { name: "x", nodes: [] } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.code).toBe("VALIDATION_FAILED");
    expect(invalid.body.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "workflow.nodes" })]),
    );
  });

  it("refuses a WebSocket without a valid token", async () => {
    await expect(SocketClient.open(platform.wsUrl, "garbage")).rejects.toThrow(/403/);
  });

  it("answers a subscription to an unknown job with an error message", async () => {
    const socket = await SocketClient.open(platform.wsUrl, platform.token);
    socket.send({ action: "subscribe", jobId: "j_unknown" });
    const error = await socket.waitFor((m) => m.type === "error");
    expect(error.code).toBe("NOT_FOUND");
    socket.send({ action: "ping" });
    await socket.waitFor((m) => m.type === "pong");
    await socket.close();
  });
});
