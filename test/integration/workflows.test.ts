import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";
import { bearer, createTenant, createUser, send } from "./identity-support.ts";

const doubling = (name = "double") => ({
  name,
  description: "doubles n",
  nodes: [
    { id: "double", type: "code", input: { n: "{% $input.n %}" }, code: "return { doubled: input.n * 2 }" },
  ],
  output: { result: "{% $steps.double.output.doubled %}" },
});

const tripling = {
  name: "triple",
  nodes: [
    { id: "triple", type: "code", input: { n: "{% $input.n %}" }, code: "return { tripled: input.n * 3 }" },
  ],
  output: { result: "{% $steps.triple.output.tripled %}" },
};

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

// Names are unique per tenant, and several tests store "double" or rename to "triple": each starts with none.
afterEach(async () => {
  for (;;) {
    const page = await platform.client.api.listWorkflows({ query: { limit: 100 } });
    if (page.items.length === 0) return;
    for (const workflow of page.items)
      await platform.client.api.deleteWorkflow({ params: { id: workflow.id } });
  }
});

async function create(definition: unknown = doubling()) {
  const created = await platform.api("POST", "/v1/workflows", definition);
  if (created.status !== 201)
    throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

describe("workflows as versioned resources", () => {
  it("keeps names unique per tenant, case-insensitively, through renames and deletes", async () => {
    const a = await create(doubling("alpha"));
    const b = await create(doubling("beta"));
    expect((await platform.api("POST", "/v1/workflows", doubling("ALPHA"))).status).toBe(409);
    const rename = await platform.api("PUT", `/v1/workflows/${b.id}`, doubling("Alpha"));
    expect(rename.status).toBe(409);
    expect(rename.body).toMatchObject({ code: "CONFLICT", message: "A workflow named Alpha already exists" });
    expect((await platform.api("DELETE", `/v1/workflows/${a.id}`)).status).toBe(204);
    expect((await platform.api("PUT", `/v1/workflows/${b.id}`, doubling("alpha"))).status).toBe(200);
    // The rename freed "beta".
    expect((await platform.api("POST", "/v1/workflows", doubling("beta"))).status).toBe(201);
  });

  it("creates version 1 and reads it back", async () => {
    const created = await platform.api("POST", "/v1/workflows", doubling());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^wf_/),
      name: "double",
      description: "doubles n",
      version: 1,
      createdBy: expect.any(String),
      definition: doubling(),
    });
    const read = await platform.api("GET", `/v1/workflows/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);
  });

  it("makes a new version on PUT and keeps the old ones as they were", async () => {
    const { id } = await create();
    const updated = await platform.api("PUT", `/v1/workflows/${id}`, tripling);
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, name: "triple", version: 2, definition: tripling });
    expect(updated.body.description).toBeUndefined();

    const latest = await platform.api("GET", `/v1/workflows/${id}`);
    expect(latest.body).toMatchObject({ version: 2, definition: tripling });
    const versions = await platform.api("GET", `/v1/workflows/${id}/versions`);
    expect(versions.status).toBe(200);
    expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const first = await platform.api("GET", `/v1/workflows/${id}/versions/1`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ workflowId: id, version: 1, name: "double", definition: doubling() });
    expect((await platform.api("GET", `/v1/workflows/${id}/versions/3`)).status).toBe(404);
    expect((await platform.api("GET", `/v1/workflows/${id}/versions/zero`)).status).toBe(404);
  });

  it("gives concurrent updates consecutive versions, never the same one", async () => {
    const { id } = await create();
    const results = await Promise.all(
      [1, 2, 3].map((n) => platform.api("PUT", `/v1/workflows/${id}`, doubling(`double-${n}`))),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.map((r) => r.body.version).sort()).toEqual([2, 3, 4]);
  });

  it("lists the latest version of each workflow, newest first, with a cursor", async () => {
    const a = await create(doubling("list-a"));
    const b = await create(doubling("list-b"));
    await platform.api("PUT", `/v1/workflows/${a.id}`, doubling("list-a2"));
    const first = await platform.api("GET", "/v1/workflows?limit=1");
    expect(first.status).toBe(200);
    expect(first.body.items).toEqual([expect.objectContaining({ id: b.id, name: "list-b", version: 1 })]);
    expect(first.body.items[0].definition).toBeUndefined();
    const second = await platform.api("GET", `/v1/workflows?limit=1&cursor=${first.body.cursor}`);
    expect(second.body.items).toEqual([expect.objectContaining({ id: a.id, name: "list-a2", version: 2 })]);
    expect((await platform.api("GET", "/v1/workflows?cursor=garbage")).status).toBe(400);
  });

  it("soft-deletes: gone from reads and lists, its versions kept for the jobs that ran them", async () => {
    const { id } = await create(doubling("doomed"));
    const deleted = await platform.api("DELETE", `/v1/workflows/${id}`);
    expect(deleted.status).toBe(204);
    expect((await platform.api("GET", `/v1/workflows/${id}`)).status).toBe(404);
    expect((await platform.api("PUT", `/v1/workflows/${id}`, doubling())).status).toBe(404);
    expect((await platform.api("DELETE", `/v1/workflows/${id}`)).status).toBe(404);
    const listed = await platform.api("GET", "/v1/workflows?limit=100");
    expect(listed.body.items.map((w: { id: string }) => w.id)).not.toContain(id);
    expect((await platform.api("GET", `/v1/workflows/${id}/versions/1`)).status).toBe(200);
    expect((await platform.api("POST", "/v1/jobs", { workflowId: id })).status).toBe(404);
  });
});

describe("refusing bad definitions, naming the node and the problem", () => {
  const cases: [string, unknown, { nodeId?: string; path: string; message: RegExp }][] = [
    [
      "a missing field",
      {
        name: "x",
        nodes: [
          { id: "a", type: "code", code: "return 1" },
          { id: "b", type: "code" },
        ],
      },
      { nodeId: "b", path: "nodes.1.code", message: /expected string/ },
    ],
    [
      "an unknown node type",
      { name: "x", nodes: [{ id: "a", type: "teleport" }] },
      {
        nodeId: "a",
        path: "nodes.0.type",
        message: /unknown node type "teleport" \(expected code, tool, agent/,
      },
    ],
    [
      "an unknown key",
      { name: "x", nodes: [{ id: "a", type: "code", code: "return 1", retires: 3 }] },
      { nodeId: "a", path: "nodes.0", message: /retires/ },
    ],
    [
      "a cycle",
      {
        name: "x",
        nodes: [
          { id: "a", type: "code", code: "return 1", dependsOn: ["b"] },
          { id: "b", type: "code", code: "return 1", dependsOn: ["a"] },
        ],
      },
      { nodeId: "a", path: "nodes.0.dependsOn", message: /dependency cycle: a → b → a/ },
    ],
    [
      "an unknown dependency",
      { name: "x", nodes: [{ id: "a", type: "code", code: "return 1", dependsOn: ["ghost"] }] },
      { nodeId: "a", path: "nodes.0.dependsOn.0", message: /unknown node "ghost"/ },
    ],
    [
      "duplicate ids",
      {
        name: "x",
        nodes: [
          { id: "a", type: "code", code: "return 1" },
          { id: "a", type: "code", code: "return 2" },
        ],
      },
      { nodeId: "a", path: "nodes.1.id", message: /duplicate node id "a"/ },
    ],
    [
      "a JSONata syntax error",
      { name: "x", nodes: [{ id: "a", type: "code", code: "return 1", input: { n: "{% $input.n + %}" } }] },
      { nodeId: "a", path: "nodes.0.input.n", message: /./ },
    ],
    [
      "an unknown agent",
      { name: "x", nodes: [{ id: "a", type: "agent", agent: "nobody-by-this-name" }] },
      { nodeId: "a", path: "nodes.0.agent", message: /unknown agent "nobody-by-this-name"/ },
    ],
    [
      "an unknown tool",
      { name: "x", nodes: [{ id: "t", type: "tool", tool: "no_such_tool" }] },
      { nodeId: "t", path: "nodes.0.tool", message: /unknown tool "no_such_tool"/ },
    ],
  ];

  it.each(cases)("refuses %s on create, update and validate", async (_, definition, problem) => {
    const { id } = await create();
    for (const [method, path] of [
      ["POST", "/v1/workflows"],
      ["PUT", `/v1/workflows/${id}`],
      ["POST", "/v1/workflows/validate"],
    ] as const) {
      const result = await platform.api(method, path, definition);
      expect(result.status, `${method} ${path}`).toBe(400);
      expect(result.body).toMatchObject({ code: "VALIDATION_FAILED", requestId: expect.any(String) });
      expect(result.body.message).toContain(problem.nodeId ?? "");
      expect(result.body.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            ...(problem.nodeId === undefined ? {} : { nodeId: problem.nodeId }),
            path: problem.path,
            message: expect.stringMatching(problem.message),
          }),
        ]),
      );
    }
    // Nothing was stored: the workflow is still at version 1.
    expect((await platform.api("GET", `/v1/workflows/${id}`)).body.version).toBe(1);
  });

  it("validates a good definition without storing or auditing anything", async () => {
    const before = await platform.api("GET", "/v1/workflows?limit=100");
    const result = await platform.api("POST", "/v1/workflows/validate", doubling("only-checked"));
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ valid: true });
    const after = await platform.api("GET", "/v1/workflows?limit=100");
    expect(after.body.items.length).toBe(before.body.items.length);
    const audit = await platform.api("GET", "/v1/audit?limit=100");
    expect(audit.status).toBe(200);
    const actions = audit.body.items.map((entry: { action: string }) => entry.action);
    expect(actions).toContain("createWorkflow");
    expect(actions).not.toContain("validateWorkflow");
  });
});

describe("jobs from stored workflows", () => {
  it("runs the latest version and pins it on the job", async () => {
    const { id } = await create();
    const first = await platform.api("POST", "/v1/jobs", { workflowId: id, input: { n: 4 } });
    expect(first.status).toBe(202);
    const firstJob = await waitForJob(platform, first.body.jobId, ["succeeded"]);
    expect(firstJob).toMatchObject({
      workflowId: id,
      workflowVersion: 1,
      workflowName: "double",
      output: { result: 8 },
    });

    await platform.api("PUT", `/v1/workflows/${id}`, tripling);
    const second = await platform.api("POST", "/v1/jobs", { workflowId: id, input: { n: 4 } });
    const secondJob = await waitForJob(platform, second.body.jobId, ["succeeded"]);
    expect(secondJob).toMatchObject({
      workflowId: id,
      workflowVersion: 2,
      workflowName: "triple",
      output: { result: 12 },
    });
    // The first job still says what it ran.
    expect((await platform.api("GET", `/v1/jobs/${first.body.jobId}`)).body).toMatchObject({
      workflowVersion: 1,
    });
    const byWorkflow = await platform.api("GET", `/v1/jobs?workflowId=${id}`);
    expect(byWorkflow.body.items.map((j: { id: string }) => j.id)).toEqual([
      second.body.jobId,
      first.body.jobId,
    ]);
  });

  it("answers 404 for an unknown workflow", async () => {
    const result = await platform.api("POST", "/v1/jobs", { workflowId: "wf_doesnotexist" });
    expect(result.status).toBe(404);
    expect(result.body.code).toBe("NOT_FOUND");
  });
});

describe("tenancy and roles", () => {
  it("hides one tenant's workflows from another", async () => {
    const { id } = await create(doubling("private"));
    const other = await createTenant(platform, "Elsewhere");
    const them = bearer(other.token);
    expect((await send(platform.url, them, "GET", `/v1/workflows/${id}`)).status).toBe(404);
    expect((await send(platform.url, them, "GET", `/v1/workflows/${id}/versions/1`)).status).toBe(404);
    expect((await send(platform.url, them, "PUT", `/v1/workflows/${id}`, doubling())).status).toBe(404);
    expect((await send(platform.url, them, "DELETE", `/v1/workflows/${id}`)).status).toBe(404);
    expect((await send(platform.url, them, "POST", "/v1/jobs", { workflowId: id })).status).toBe(404);
    const listed = await send(platform.url, them, "GET", "/v1/workflows");
    expect(listed.body.items).toEqual([]);
  });

  it("lets viewers read and validate, but not write", async () => {
    const { id } = await create(doubling("read-only"));
    const viewer = bearer((await createUser(platform.url, platform.token, "viewer")).token);
    expect((await send(platform.url, viewer, "GET", `/v1/workflows/${id}`)).status).toBe(200);
    expect((await send(platform.url, viewer, "POST", "/v1/workflows/validate", doubling())).status).toBe(200);
    expect((await send(platform.url, viewer, "POST", "/v1/workflows", doubling())).status).toBe(403);
    expect((await send(platform.url, viewer, "PUT", `/v1/workflows/${id}`, doubling())).status).toBe(403);
    expect((await send(platform.url, viewer, "DELETE", `/v1/workflows/${id}`)).status).toBe(403);
  });
});
