import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestApproval } from "#shared/approvals/request";
import { loadJob } from "#shared/stores/jobs";
import { type Platform, SocketClient, startPlatform, waitForJob } from "../support/platform.ts";
import { bearer, createTenant, createUser, send } from "./identity-support.ts";

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

async function start(workflow: unknown, input: unknown = {}): Promise<string> {
  const result = await platform.api("POST", "/v1/jobs", { workflow, input });
  if (result.status !== 202) throw new Error(`job refused: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body.jobId;
}

/** The job's pending approvals once there are `count` of them, by node and item. */
async function pendingApprovals(jobId: string, count: number, timeoutMs = 20_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await platform.api("GET", `/v1/approvals?jobId=${jobId}&status=pending`);
    const items = result.body?.items ?? [];
    if (items.length >= count) {
      return items.sort(
        (a: any, b: any) => a.nodeId.localeCompare(b.nodeId) || (a.itemIndex ?? -1) - (b.itemIndex ?? -1),
      );
    }
    if (Date.now() > deadline)
      throw new Error(`job ${jobId} has ${items.length} pending approvals, not ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function decide(
  id: string,
  decision: "approve" | "reject",
  headers?: Record<string, string>,
  comment?: string,
) {
  const body = { decision, ...(comment === undefined ? {} : { comment }) };
  return headers === undefined
    ? platform.api("POST", `/v1/approvals/${id}/decision`, body)
    : send(platform.url, headers, "POST", `/v1/approvals/${id}/decision`, body);
}

async function timeline(jobId: string): Promise<any[]> {
  return (await platform.api("GET", `/v1/jobs/${jobId}/events`)).body.items;
}

const gate = (extra: Record<string, unknown> = {}) => ({
  name: "gated",
  nodes: [
    { id: "gate", type: "approval", message: "Ship {% $input.what %}?", ...extra },
    { id: "after", type: "code", dependsOn: ["gate"], code: "return 'shipped'" },
  ],
  output: { after: "{% $steps.after.output %}" },
});

describe("an approval node", () => {
  it("waits with no compute held, then goes on when approved, streaming both events", async () => {
    const socket = await SocketClient.open(platform.wsUrl, platform.token);
    socket.send({ action: "subscribe", all: true });
    await socket.waitFor((m) => m.type === "subscribed");

    const jobId = await start(gate(), { what: "v2" });
    const [approval] = await pendingApprovals(jobId, 1);
    expect(approval).toMatchObject({
      id: expect.stringMatching(/^ap_/),
      jobId,
      nodeId: "gate",
      workflowName: "gated",
      message: "Ship v2?",
      status: "pending",
      quorum: 1,
      decisions: [],
      createdAt: expect.any(String),
    });
    const job = await platform.api("GET", `/v1/jobs/${jobId}`);
    expect(job.body.steps.find((s: any) => s.nodeId === "gate")).toMatchObject({
      status: "waiting_approval",
    });
    const requested = await socket.waitFor((m) => m.type === "approval.requested" && m.jobId === jobId);
    expect(requested).toMatchObject({ approvalId: approval.id, nodeId: "gate", message: "Ship v2?" });

    const decided = await decide(approval.id, "approve", undefined, "looks good");
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({
      id: approval.id,
      status: "approved",
      decision: "approve",
      resolvedAt: expect.any(String),
      decisions: [
        { by: expect.any(String), decision: "approve", comment: "looks good", at: expect.any(String) },
      ],
    });
    const done = await waitForJob(platform, jobId, ["succeeded"]);
    expect(done.output).toEqual({ after: "shipped" });
    expect(done.steps.find((s: any) => s.nodeId === "gate")).toMatchObject({
      status: "succeeded",
      output: { decision: "approve" },
    });
    const resolved = await socket.waitFor((m) => m.type === "approval.resolved" && m.jobId === jobId);
    expect(resolved).toMatchObject({ approvalId: approval.id, nodeId: "gate", decision: "approve" });
    await socket.close();

    const events = await timeline(jobId);
    expect(events.filter((e) => e.type === "approval.requested")).toHaveLength(1);
    expect(events.filter((e) => e.type === "approval.resolved")).toHaveLength(1);
    // One timeline: the approval events took their place in the job's sequence, with no gaps or repeats.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));

    const again = await decide(approval.id, "reject");
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("CONFLICT");
    expect((await platform.api("GET", `/v1/approvals/${approval.id}`)).body.status).toBe("approved");
  });

  it("fails the node on rejection", async () => {
    const jobId = await start(gate(), { what: "v3" });
    const [approval] = await pendingApprovals(jobId, 1);
    expect((await decide(approval.id, "reject")).body.status).toBe("rejected");
    const job = await waitForJob(platform, jobId, ["failed"]);
    expect(job.steps.find((s: any) => s.nodeId === "gate")).toMatchObject({
      status: "failed",
      error: { code: "REJECTED" },
    });
  });

  it("skips the node on rejection when it says onReject: skip", async () => {
    const jobId = await start(gate({ onReject: "skip" }), { what: "v4" });
    const [approval] = await pendingApprovals(jobId, 1);
    await decide(approval.id, "reject");
    const job = await waitForJob(platform, jobId, ["succeeded"]);
    expect(job.steps.find((s: any) => s.nodeId === "gate")).toMatchObject({ status: "skipped" });
  });

  it("carries out a repeated requestApproval command once", async () => {
    const jobId = await start(gate(), { what: "twice" });
    const [approval] = await pendingApprovals(jobId, 1);
    const loaded = await loadJob("default", jobId);
    if (loaded === undefined) throw new Error("job not found");
    // The same command again, as a re-run after a crash between commit and side effect would send it.
    await requestApproval(loaded.state, { type: "requestApproval", nodeId: "gate", message: "Ship twice?" });
    await requestApproval(loaded.state, { type: "requestApproval", nodeId: "gate", message: "Ship twice?" });
    const all = await platform.api("GET", `/v1/approvals?jobId=${jobId}`);
    expect(all.body.items.map((a: any) => a.id)).toEqual([approval.id]);
    const events = await timeline(jobId);
    expect(events.filter((e) => e.type === "approval.requested")).toHaveLength(1);
    await decide(approval.id, "approve");
    await waitForJob(platform, jobId, ["succeeded"]);
  });
});

describe("approvals inside branches are independent", () => {
  it("resolves two parallel approvals decided in reverse order", async () => {
    const jobId = await start({
      name: "two-gates",
      nodes: [
        { id: "legal", type: "approval", message: "Legal ok?" },
        { id: "security", type: "approval", message: "Security ok?" },
        { id: "ship", type: "code", dependsOn: ["legal", "security"], code: "return 'both'" },
      ],
    });
    const [legal, security] = await pendingApprovals(jobId, 2);
    expect(legal.nodeId).toBe("legal");
    expect(security.nodeId).toBe("security");
    await decide(security.id, "approve");
    let job = await platform.api("GET", `/v1/jobs/${jobId}`);
    expect(job.body.steps.find((s: any) => s.nodeId === "legal").status).toBe("waiting_approval");
    expect(job.body.steps.find((s: any) => s.nodeId === "ship").status).toBe("pending");
    await decide(legal.id, "approve");
    job = { ...job, body: await waitForJob(platform, jobId, ["succeeded"]) };
    expect(job.body.steps.find((s: any) => s.nodeId === "ship")).toMatchObject({
      status: "succeeded",
      output: "both",
    });
  });

  const perItem = (onReject?: "skip") => ({
    name: "per-item",
    nodes: [
      {
        id: "each",
        type: "approval",
        forEach: "{% $input.items %}",
        message: "Publish {% $item %}?",
        ...(onReject === undefined ? {} : { onReject }),
      },
    ],
  });

  it("fails the forEach node when one of its items is rejected, whatever the order", async () => {
    const jobId = await start(perItem(), { items: ["a", "b", "c"] });
    const approvals = await pendingApprovals(jobId, 3);
    expect(approvals.map((a) => [a.itemIndex, a.message])).toEqual([
      [0, "Publish a?"],
      [1, "Publish b?"],
      [2, "Publish c?"],
    ]);
    await decide(approvals[2].id, "approve");
    await decide(approvals[0].id, "approve");
    await decide(approvals[1].id, "reject");
    const job = await waitForJob(platform, jobId, ["failed"]);
    const items = job.steps.filter((s: any) => s.nodeId === "each" && s.itemIndex !== undefined);
    expect(items.map((s: any) => s.status)).toEqual(["succeeded", "failed", "succeeded"]);
  });

  it("skips a rejected item and keeps the others with onReject: skip", async () => {
    const jobId = await start(perItem("skip"), { items: ["a", "b", "c"] });
    const approvals = await pendingApprovals(jobId, 3);
    await decide(approvals[1].id, "reject");
    await decide(approvals[2].id, "approve");
    let job = await platform.api("GET", `/v1/jobs/${jobId}`);
    expect(job.body.status).not.toBe("succeeded");
    await decide(approvals[0].id, "approve");
    const done = await waitForJob(platform, jobId, ["succeeded"]);
    const items = done.steps.filter((s: any) => s.nodeId === "each" && s.itemIndex !== undefined);
    expect(items.map((s: any) => s.status)).toEqual(["succeeded", "skipped", "succeeded"]);
    job = await platform.api("GET", `/v1/approvals?jobId=${jobId}`);
    expect(job.body.items.map((a: any) => a.status).sort()).toEqual(["approved", "approved", "rejected"]);
  });
});

describe("who may decide", () => {
  it("needs quorum approvals from the listed approvers, once each; viewers and others are refused", async () => {
    const listed = await createUser(platform.url, platform.token, "user");
    const unlisted = await createUser(platform.url, platform.token, "user");
    const viewer = await createUser(platform.url, platform.token, "viewer");
    const jobId = await start(gate({ approvers: ["admin", listed.email], quorum: 2 }), { what: "carefully" });
    const [approval] = await pendingApprovals(jobId, 1);
    expect(approval).toMatchObject({ approvers: ["admin", listed.email], quorum: 2 });

    expect((await decide(approval.id, "approve", bearer(viewer.token))).status).toBe(403);
    expect((await decide(approval.id, "approve", bearer(unlisted.token))).status).toBe(403);

    const first = await decide(approval.id, "approve");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: "pending", decisions: [{ decision: "approve" }] });
    const twice = await decide(approval.id, "approve");
    expect(twice.status).toBe(409);
    expect(twice.body.message).toMatch(/already decided/);

    const second = await decide(approval.id, "approve", bearer(listed.token));
    expect(second.status).toBe(200);
    expect(second.body.status).toBe("approved");
    expect(second.body.decisions).toHaveLength(2);
    await waitForJob(platform, jobId, ["succeeded"]);
  });

  it("lets a single rejection reject, even below quorum", async () => {
    const jobId = await start(gate({ quorum: 2 }), { what: "maybe" });
    const [approval] = await pendingApprovals(jobId, 1);
    const rejected = await decide(approval.id, "reject");
    expect(rejected.body.status).toBe("rejected");
    await waitForJob(platform, jobId, ["failed"]);
  });

  it("hides approvals from other tenants", async () => {
    const jobId = await start(gate(), { what: "secret" });
    const [approval] = await pendingApprovals(jobId, 1);
    const other = await createTenant(platform, "Outsiders");
    const them = bearer(other.token);
    expect((await send(platform.url, them, "GET", `/v1/approvals/${approval.id}`)).status).toBe(404);
    expect((await decide(approval.id, "approve", them)).status).toBe(404);
    expect((await send(platform.url, them, "GET", "/v1/approvals?status=pending")).body.items).toEqual([]);
    await decide(approval.id, "approve");
  });

  it("closes an approval whose job was cancelled instead of deciding it", async () => {
    const jobId = await start(gate(), { what: "never" });
    const [approval] = await pendingApprovals(jobId, 1);
    expect((await platform.api("POST", `/v1/jobs/${jobId}/cancel`)).status).toBe(200);
    const late = await decide(approval.id, "approve");
    expect(late.status).toBe(409);
    expect((await platform.api("GET", `/v1/approvals/${approval.id}`)).body.status).toBe("expired");
  });
});

describe("timeouts", () => {
  async function sweepAfter(ms: number) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await platform.twin.invoke("sweeper", {});
  }

  it("resolves an expired approval as onTimeout says: approve", async () => {
    const jobId = await start(gate({ timeoutSeconds: 1, onTimeout: "approve" }), { what: "soon" });
    const [approval] = await pendingApprovals(jobId, 1);
    expect(approval.expiresAt).toEqual(expect.any(String));
    await sweepAfter(1200);
    await waitForJob(platform, jobId, ["succeeded"]);
    expect((await platform.api("GET", `/v1/approvals/${approval.id}`)).body).toMatchObject({
      status: "expired",
      decision: "approve",
    });
    expect((await decide(approval.id, "reject")).status).toBe(409);
  });

  it("rejects an expired approval by default", async () => {
    const jobId = await start(gate({ timeoutSeconds: 1 }), { what: "late" });
    const [approval] = await pendingApprovals(jobId, 1);
    await sweepAfter(1200);
    await waitForJob(platform, jobId, ["failed"]);
    expect((await platform.api("GET", `/v1/approvals/${approval.id}`)).body.decision).toBe("reject");
  });

  it("leaves an approval that is not due yet alone", async () => {
    const jobId = await start(gate({ timeoutSeconds: 3600 }), { what: "later" });
    const [approval] = await pendingApprovals(jobId, 1);
    await platform.twin.invoke("sweeper", {});
    expect((await platform.api("GET", `/v1/approvals/${approval.id}`)).body.status).toBe("pending");
    await decide(approval.id, "approve");
  });
});

describe("confidence routing and per-agent feedback", () => {
  it("asks for approval below notifyAt, and keeps approval rates and confidence per agent", async () => {
    const agent = await platform.api("POST", "/v1/agents", {
      name: "reviewer",
      provider: "scripted",
      model: "scripted-1",
      script: {
        rules: [
          { match: "shaky", reply: "not sure", confidence: 0.35 },
          { match: "middling", reply: "probably", confidence: 0.55 },
          { match: "solid", reply: "certain", confidence: 0.95 },
        ],
      },
    });
    expect(agent.status).toBe(201);
    const reviewed = {
      name: "reviewed",
      nodes: [
        {
          id: "write",
          type: "agent",
          agent: "reviewer",
          input: { prompt: "{% $input.prompt %}" },
          review: { autoApproveAt: 0.9, notifyAt: 0.7 },
        },
      ],
    };

    const confident = await start(reviewed, { prompt: "solid work" });
    await waitForJob(platform, confident, ["succeeded"]);

    const outcomes: [string, "approve" | "reject"][] = [
      ["shaky one", "approve"],
      ["shaky two", "reject"],
      ["middling", "approve"],
    ];
    for (const [prompt, decision] of outcomes) {
      const jobId = await start(reviewed, { prompt });
      const [approval] = await pendingApprovals(jobId, 1);
      expect(approval).toMatchObject({ nodeId: "write", agent: "reviewer", agentId: agent.body.id });
      expect(approval.confidence).toBeLessThan(0.7);
      expect(approval.preview).toMatchObject({ text: expect.any(String) });
      await decide(approval.id, decision);
      await waitForJob(platform, jobId, [decision === "approve" ? "succeeded" : "failed"]);
    }

    const stats = await platform.api("GET", "/v1/agents/reviewer/stats");
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({
      agentId: agent.body.id,
      agent: "reviewer",
      approvals: { requested: 3, pending: 0, approved: 2, rejected: 1, expired: 0 },
    });
    expect(stats.body.approvalRate).toBeCloseTo(2 / 3);
    expect(stats.body.rejectionRate).toBeCloseTo(1 / 3);
    expect(stats.body.confidence).toHaveLength(10);
    expect(stats.body.confidence[3]).toEqual({ from: 0.3, to: 0.4, requested: 2, approved: 1, rejected: 1 });
    expect(stats.body.confidence[5]).toEqual({ from: 0.5, to: 0.6, requested: 1, approved: 1, rejected: 0 });
    const byId = await platform.api("GET", `/v1/agents/${agent.body.id}/stats`);
    expect(byId.body).toEqual(stats.body);
    expect((await platform.api("GET", "/v1/agents/nobody/stats")).status).toBe(404);
  });
});
