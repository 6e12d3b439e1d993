import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

/**
 * The learning loop end to end: people decide an agent's reviewed results, the calibration recommends the
 * lowest autoApproveAt their decisions support (≥ 95% approved of ≥ 20), and an adaptive review then lets
 * such results go on by themselves while a plain review still asks, each saying which threshold applied.
 */

let platform: Platform;

const workflow = (review: Record<string, unknown>) => ({
  name: "reviewed",
  nodes: [
    { id: "write", type: "agent", agent: "calibrated", input: { prompt: "{% $input.prompt %}" }, review },
  ],
});
const adaptive = workflow({ autoApproveAt: 0.9, adaptive: true });
const plain = workflow({ autoApproveAt: 0.9 });

async function start(definition: unknown, prompt: string): Promise<string> {
  const result = await platform.api("POST", "/v1/jobs", { workflow: definition, input: { prompt } });
  if (result.status !== 202) throw new Error(`job refused: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body.jobId;
}

async function pendingApproval(jobId: string): Promise<any> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const items =
      (await platform.api("GET", `/v1/approvals?jobId=${jobId}&status=pending`)).body?.items ?? [];
    if (items.length > 0) return items[0];
    if (Date.now() > deadline) throw new Error(`no approval for ${jobId}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function decideAll(prompt: string, count: number, decision: "approve" | "reject") {
  const jobs = await Promise.all(Array.from({ length: count }, () => start(adaptive, prompt)));
  await Promise.all(
    jobs.map(async (jobId) => {
      const approval = await pendingApproval(jobId);
      const result = await platform.api("POST", `/v1/approvals/${approval.id}/decision`, { decision });
      expect(result.status).toBe(200);
    }),
  );
  return jobs;
}

beforeAll(async () => {
  platform = await startPlatform();
  const agent = await platform.api("POST", "/v1/agents", {
    name: "calibrated",
    provider: "scripted",
    model: "scripted-1",
    script: {
      rules: [
        { match: "middling", reply: "probably right", confidence: 0.75 },
        { match: "shaky", reply: "no idea", confidence: 0.35 },
      ],
    },
  });
  expect(agent.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await platform?.stop();
});

describe("calibration", () => {
  it("recommends nothing before people decided, and an adaptive review then keeps the node's threshold", async () => {
    const empty = await platform.api("GET", "/v1/agents/calibrated/calibration");
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({
      agent: "calibrated",
      rule: { minDecisions: 20, targetApprovalRate: 0.95, bandWidth: 0.1 },
      recommendedAutoApproveAt: null,
    });
    expect(empty.body.bands).toHaveLength(10);

    const jobId = await start(adaptive, "middling");
    const approval = await pendingApproval(jobId);
    expect(approval.message).toContain("below 0.9");
    expect(approval.message).toContain("adaptive: no recommendation");
    await platform.api("POST", `/v1/approvals/${approval.id}/decision`, { decision: "approve" });
    await waitForJob(platform, jobId, ["succeeded"]);
  });

  it("recommends the lowest threshold that at least 95% of at least 20 decisions support", async () => {
    await decideAll("middling", 19, "approve");
    await decideAll("shaky", 2, "reject");
    const calibration = await platform.api("GET", "/v1/agents/calibrated/calibration");
    expect(calibration.body.bands[7]).toEqual({
      from: 0.7,
      to: 0.8,
      decisions: 20,
      approved: 20,
      rejected: 0,
      approvalRate: 1,
    });
    expect(calibration.body.bands[3]).toMatchObject({ decisions: 2, approved: 0, approvalRate: 0 });
    // At 0.3 only 20 of 22 (91%) were approved; at 0.7, 20 of 20.
    expect(calibration.body.recommendedAutoApproveAt).toBe(0.7);
    expect(calibration.body.support).toEqual({ decisions: 20, approvalRate: 1 });
    const byId = await platform.api("GET", `/v1/agents/${calibration.body.agentId}/calibration`);
    expect(byId.body).toEqual(calibration.body);
    expect((await platform.api("GET", "/v1/agents/nobody/calibration")).status).toBe(404);
  }, 300_000);

  it("an adaptive review goes on at the calibrated threshold and records why; a plain one still asks", async () => {
    const goesOn = await start(adaptive, "middling");
    const done = await waitForJob(platform, goesOn, ["succeeded"], 60_000);
    expect(done.steps[0].output.routing).toMatchObject({ autoApproveAt: 0.7 });
    const events = (await platform.api("GET", `/v1/jobs/${goesOn}/events`)).body.items;
    const note = events.find((e: any) => e.type === "job.note" && e.nodeId === "write");
    expect(note.message).toContain("auto-approved with confidence 0.75");
    expect(note.message).toContain("adaptive: autoApproveAt 0.7 from calibration 0.7");
    expect((await platform.api("GET", `/v1/approvals?jobId=${goesOn}`)).body.items).toEqual([]);

    const shaky = await start(adaptive, "shaky");
    expect((await pendingApproval(shaky)).message).toContain("below 0.7");

    const asks = await start(plain, "middling");
    const approval = await pendingApproval(asks);
    expect(approval.message).toContain("below 0.9");
    expect(approval.message).not.toContain("adaptive");
  }, 180_000);

  it("refuses a floor above the ceiling", async () => {
    const result = await platform.api(
      "POST",
      "/v1/workflows/validate",
      workflow({ autoApproveAt: 0.6, minAutoApproveAt: 0.8, adaptive: true }),
    );
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body)).toContain("minAutoApproveAt");
  });
});
