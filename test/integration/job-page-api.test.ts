import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

const pipeline = {
  name: "rerun-pipeline",
  nodes: [
    { id: "seed", type: "code", code: 'console.log("seeding"); return 10' },
    {
      id: "scale",
      type: "code",
      dependsOn: ["seed"],
      input: { base: "{% $steps.seed.output %}", by: "{% $input.by %}" },
      code: 'console.log("scaling", input.base, "by", input.by); return input.base * input.by',
    },
    {
      id: "label",
      type: "code",
      dependsOn: ["scale"],
      input: { n: "{% $steps.scale.output %}" },
      code: 'return "n=" + input.n',
    },
  ],
};

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

const stepsOf = (job: any) => Object.fromEntries(job.steps.map((s: any) => [s.nodeId, s]));

describe("re-running a job with a plan", () => {
  it("keeps console lines of code steps with the step, and re-runs with a plan", async () => {
    const workflow = await platform.api("POST", "/v1/workflows", pipeline);
    expect(workflow.status).toBe(201);
    const first = await platform.api("POST", "/v1/jobs", { workflowId: workflow.body.id, input: { by: 2 } });
    const original = await waitForJob(platform, first.body.id, ["succeeded"]);
    const before = stepsOf(original);
    expect(before.seed.logs).toEqual(["seeding"]);
    expect(before.scale.logs).toEqual(["scaling 10 by 2"]);
    expect(before.label.logs).toBeUndefined();

    // A dry run plans and starts nothing.
    const dry = await platform.api("POST", `/v1/jobs/${first.body.id}/rerun`, {
      dryRun: true,
      input: { by: 3 },
    });
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({
      sourceJobId: first.body.id,
      dryRun: true,
      workflowVersion: 1,
      inputChanged: true,
      steps: [
        { nodeId: "seed", action: "keep", reason: "succeeded before" },
        { nodeId: "scale", action: "run", reason: "reads the job input, which changed" },
        { nodeId: "label", action: "run", reason: "reads scale, which runs again" },
      ],
    });
    const listed = await platform.api("GET", `/v1/jobs?workflowId=${workflow.body.id}`);
    expect(listed.body.items).toHaveLength(1);

    const rerun = await platform.api("POST", `/v1/jobs/${first.body.id}/rerun`, { input: { by: 3 } });
    expect(rerun.status).toBe(202);
    // Its code steps ran at its start (the first job warmed the sandbox), so it comes back finished.
    expect(rerun.body.job).toEqual({
      id: expect.stringMatching(/^j_/),
      jobId: rerun.body.job.id,
      status: "succeeded",
    });
    const second = await waitForJob(platform, rerun.body.job.id, ["succeeded"]);
    expect(second).toMatchObject({ input: { by: 3 }, workflowVersion: 1, output: { label: "n=30" } });
    const after = stepsOf(second);
    // The kept step did not run again: same times, same output, same logs.
    expect(after.seed).toMatchObject({
      status: "succeeded",
      output: 10,
      startedAt: before.seed.startedAt,
      logs: ["seeding"],
    });
    expect(after.scale).toMatchObject({ status: "succeeded", output: 30, logs: ["scaling 10 by 3"] });
    const events = await platform.api("GET", `/v1/jobs/${second.id}/events`);
    expect(events.body.items).toContainEqual(
      expect.objectContaining({
        type: "job.note",
        message: `re-run of ${first.body.id}: 2 node(s) run again, kept seed`,
      }),
    );
    // The job re-run is left as it was.
    const unchanged = await platform.api("GET", `/v1/jobs/${first.body.id}`);
    expect(unchanged.body).toMatchObject({ status: "succeeded", output: { label: "n=20" } });
  });

  it("re-runs from a chosen step and on a newer version of the workflow", async () => {
    const workflow = await platform.api("POST", "/v1/workflows", { ...pipeline, name: "rerun-versions" });
    const first = await platform.api("POST", "/v1/jobs", { workflowId: workflow.body.id, input: { by: 2 } });
    await waitForJob(platform, first.body.id, ["succeeded"]);

    const fromLabel = await platform.api("POST", `/v1/jobs/${first.body.id}/rerun`, {
      fromStep: "label",
      dryRun: true,
    });
    expect(fromLabel.body.steps.map((s: any) => `${s.nodeId}:${s.action}`)).toEqual([
      "seed:keep",
      "scale:keep",
      "label:run",
    ]);

    const next = {
      ...pipeline,
      name: "rerun-versions",
      nodes: [...pipeline.nodes.slice(0, 2), { ...pipeline.nodes[2], code: 'return "v2 n=" + input.n' }],
    };
    expect((await platform.api("PUT", `/v1/workflows/${workflow.body.id}`, next)).status).toBe(200);
    const onLatest = await platform.api("POST", `/v1/jobs/${first.body.id}/rerun`, {
      workflowVersion: "latest",
    });
    expect(onLatest.status).toBe(202);
    expect(onLatest.body).toMatchObject({
      workflowVersion: 2,
      inputChanged: false,
      steps: [
        { nodeId: "seed", action: "keep" },
        { nodeId: "scale", action: "keep" },
        { nodeId: "label", action: "run", reason: "changed in this workflow version" },
      ],
    });
    const done = await waitForJob(platform, onLatest.body.job.id, ["succeeded"]);
    expect(done).toMatchObject({ workflowVersion: 2, output: { label: "v2 n=20" } });

    const missing = await platform.api("POST", `/v1/jobs/${first.body.id}/rerun`, { workflowVersion: 9 });
    expect(missing.status).toBe(404);
    const badStep = await platform.api("POST", `/v1/jobs/${first.body.id}/rerun`, { fromStep: "nope" });
    expect(badStep).toMatchObject({ status: 400, body: { code: "BAD_REQUEST" } });
  });

  it("refuses to re-run a job that has not ended, or one that does not exist", async () => {
    const gated = await platform.api("POST", "/v1/jobs", {
      workflow: { name: "rerun-gate", nodes: [{ id: "gate", type: "approval", message: "Go?" }] },
    });
    await waitForJob(platform, gated.body.id, ["waiting"]);
    const refused = await platform.api("POST", `/v1/jobs/${gated.body.id}/rerun`, {});
    expect(refused).toMatchObject({ status: 409, body: { code: "CONFLICT" } });
    const inline = await platform.api("POST", `/v1/jobs/${gated.body.id}/rerun`, { workflowVersion: 2 });
    expect(inline.status).toBe(409);
    const unknown = await platform.api("POST", "/v1/jobs/j_nope/rerun", {});
    expect(unknown.status).toBe(404);
  });
});

describe("the jobs list and the timeline of a decision", () => {
  it("searches by id prefix and workflow name, within a creation date range", async () => {
    const make = async (name: string) =>
      (
        await platform.api("POST", "/v1/jobs", {
          workflow: { name, nodes: [{ id: "one", type: "code", code: "return 1" }] },
        })
      ).body.id as string;
    const alpha = await make("search-alpha-report");
    const beta = await make("search-beta-report");
    const other = await make("unrelated");

    const ids = async (query: string) => {
      const found: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await platform.api(
          "GET",
          `/v1/jobs?${query}${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
        );
        expect(page.status).toBe(200);
        found.push(...page.body.items.map((job: any) => job.id));
        cursor = page.body.cursor;
      } while (cursor !== undefined);
      return found;
    };
    expect(await ids("q=search-")).toEqual([beta, alpha]);
    expect(await ids("q=beta")).toEqual([beta]);
    expect(await ids(`q=${other.slice(0, -2)}`)).toContain(other);
    expect(await ids(`q=${other}`)).toEqual([other]);

    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(await ids(`q=search-&from=${today}&to=${today}`)).toEqual([beta, alpha]);
    expect(await ids(`q=search-&to=${yesterday}`)).toEqual([]);
    const job = await platform.api("GET", `/v1/jobs/${beta}`);
    expect(await ids(`q=search-&from=${encodeURIComponent(job.body.createdAt)}`)).toEqual([beta]);
    expect(await ids(`q=search-&to=${encodeURIComponent(job.body.createdAt)}`)).toEqual([alpha]);
    const bad = await platform.api("GET", "/v1/jobs?from=yesterday");
    expect(bad).toMatchObject({ status: 400, body: { code: "VALIDATION_FAILED" } });
  });

  it("names who decided an approval, and their comment, on the job's timeline", async () => {
    const gated = await platform.api("POST", "/v1/jobs", {
      workflow: { name: "timeline-gate", nodes: [{ id: "gate", type: "approval", message: "Ship it?" }] },
    });
    await waitForJob(platform, gated.body.id, ["waiting"]);
    const approvals = await platform.api("GET", `/v1/approvals?jobId=${gated.body.id}`);
    const decided = await platform.api("POST", `/v1/approvals/${approvals.body.items[0].id}/decision`, {
      decision: "approve",
      comment: "Looks right to me",
    });
    expect(decided.status).toBe(200);
    await waitForJob(platform, gated.body.id, ["succeeded"]);
    const events = await platform.api("GET", `/v1/jobs/${gated.body.id}/events`);
    const resolved = events.body.items.find((e: any) => e.type === "approval.resolved");
    expect(resolved).toMatchObject({
      decision: "approve",
      decisions: [{ email: "admin@switchboard.test", decision: "approve", comment: "Looks right to me" }],
    });
  });
});
