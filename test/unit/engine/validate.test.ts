import { describe, expect, it } from "vitest";
import { manifest } from "#infra/manifest";
import { MAX_LAMBDA_STEP_SECONDS, validateWorkflow } from "#shared/engine/validate";
import { workflow } from "./fixtures.ts";

function problemsOf(nodes: unknown[], extra: Record<string, unknown> = {}, opts = {}) {
  return validateWorkflow(workflow({ name: "wf", nodes, ...extra }), opts);
}

const tool = (id: string, more: Record<string, unknown> = {}) => ({
  id,
  type: "tool",
  tool: "http_request",
  ...more,
});

describe("validateWorkflow", () => {
  it("accepts the design's example workflow", () => {
    const problems = validateWorkflow(
      workflow({
        name: "triage",
        nodes: [
          {
            id: "fetch",
            type: "tool",
            tool: "http_request",
            input: { url: "{% $input.url %}" },
            retry: { maxAttempts: 3, intervalSeconds: 2, backoffRate: 2 },
            timeoutSeconds: 30,
          },
          {
            id: "sum",
            type: "agent",
            agent: "summarizer",
            dependsOn: ["fetch"],
            input: { prompt: "Summarize: {% $steps.fetch.output.body %}" },
            review: { autoApproveAt: 0.9, notifyAt: 0.7 },
          },
          {
            id: "score",
            type: "code",
            dependsOn: ["fetch"],
            code: "return { n: input.items.length }",
            input: { items: "{% $steps.fetch.output.json.items %}" },
          },
          { id: "each", type: "code", forEach: "{% $input.ids %}", code: "return item * 2" },
          {
            id: "gate",
            type: "approval",
            dependsOn: ["sum", "score"],
            if: "{% $steps.score.output.n > 10 %}",
            message: "Publish?",
          },
          { id: "pause", type: "wait", seconds: 60, dependsOn: ["gate"] },
          { id: "long", type: "agent", agent: "researcher", runtime: "fargate", dependsOn: ["pause"] },
        ],
        output: { summary: "{% $steps.sum.output.text %}" },
      }),
      {
        knownAgents: (n) => ["summarizer", "researcher"].includes(n),
        knownTools: (n) => n === "http_request",
      },
    );

    expect(problems).toEqual([]);
  });

  it("reports duplicate ids", () => {
    expect(problemsOf([tool("a"), tool("a")])).toEqual([
      { nodeId: "a", path: ["nodes", 1, "id"], message: 'duplicate node id "a" (first used by nodes[0])' },
    ]);
  });

  it("reports unknown and self dependencies", () => {
    expect(problemsOf([tool("a", { dependsOn: ["ghost", "a"] })])).toEqual([
      {
        nodeId: "a",
        path: ["nodes", 0, "dependsOn", 0],
        message: 'node "a" depends on unknown node "ghost"',
      },
      { nodeId: "a", path: ["nodes", 0, "dependsOn", 1], message: 'node "a" depends on itself' },
    ]);
  });

  it("names a cycle", () => {
    const problems = problemsOf([
      tool("root"),
      tool("c", { dependsOn: ["b"] }),
      tool("a", { dependsOn: ["root", "c"] }),
      tool("b", { dependsOn: ["a"] }),
    ]);

    expect(problems).toEqual([
      {
        nodeId: "a",
        path: ["nodes", 2, "dependsOn"],
        message: "dependency cycle: a → c → b → a (each node depends on the next)",
      },
    ]);
  });

  it("reports invalid JSONata everywhere expressions may appear", () => {
    const problems = problemsOf(
      [
        tool("a", { input: { deep: ["ok", "{% $input.( %}"] }, if: "{% ) %}" }),
        { id: "w", type: "wait", seconds: "{% 1 + %}" },
        { id: "u", type: "wait", until: "{% ][ %}" },
        { id: "f", type: "code", code: "return 1", forEach: "{% [1, %}" },
        { id: "m", type: "approval", message: "Go {% ( %}?" },
      ],
      { output: { x: "{% 1 + %}" } },
    );

    expect(problems.map((p) => [p.nodeId, p.path.join(".")])).toEqual([
      ["a", "nodes.0.if"],
      ["a", "nodes.0.input.deep.1"],
      ["w", "nodes.1.seconds"],
      ["u", "nodes.2.until"],
      ["f", "nodes.3.forEach"],
      ["m", "nodes.4.message"],
      [undefined, "output.x"],
    ]);
  });

  it("requires if and forEach to be expressions", () => {
    const problems = problemsOf([tool("a", { if: "true" })]);

    expect(problems).toEqual([
      { nodeId: "a", path: ["nodes", 0, "if"], message: "must be a JSONata expression in {% … %}" },
    ]);
  });

  it("reports $steps references to unknown nodes and to nodes that are not ancestors", () => {
    const problems = problemsOf([
      tool("a"),
      tool("b", { input: { x: "{% $steps.ghost.output %}" } }),
      tool("c", { dependsOn: ["a"], input: { y: "{% $steps.b.output %}", z: "{% $steps.a.output %}" } }),
    ]);

    expect(problems).toEqual([
      {
        nodeId: "b",
        path: ["nodes", 1, "input", "x"],
        message: 'reads $steps.ghost, but there is no node "ghost"',
      },
      {
        nodeId: "c",
        path: ["nodes", 2, "input", "y"],
        message: expect.stringContaining('node "c" does not depend on "b"'),
      },
    ]);
  });

  it("reports $item outside a forEach and inside a forEach node's if", () => {
    const problems = problemsOf([
      tool("a", { input: { x: "{% $item %}" } }),
      tool("b", { forEach: "{% [1] %}", if: "{% $index > 0 %}", input: { x: "{% $item %}" } }),
    ]);

    expect(problems.map((p) => [p.nodeId, p.path.join(".")])).toEqual([
      ["a", "nodes.0.input.x"],
      ["b", "nodes.1.if"],
    ]);
  });

  it("reports unknown agents and tools when checkers are given", () => {
    const nodes = [tool("t"), { id: "g", type: "agent", agent: "nobody" }];

    expect(problemsOf(nodes)).toEqual([]);
    expect(problemsOf(nodes, {}, { knownAgents: () => false, knownTools: () => false })).toEqual([
      { nodeId: "t", path: ["nodes", 0, "tool"], message: 'unknown tool "http_request"' },
      { nodeId: "g", path: ["nodes", 1, "agent"], message: 'unknown agent "nobody"' },
    ]);
  });

  it("needs exactly one of seconds or until on a wait node", () => {
    const problems = problemsOf([
      { id: "none", type: "wait" },
      { id: "both", type: "wait", seconds: 1, until: "2030-01-01T00:00:00Z" },
      { id: "bad", type: "wait", until: "next tuesday" },
    ]);

    expect(problems.map((p) => p.nodeId)).toEqual(["none", "both", "bad"]);
    expect(problems[2]?.message).toMatch(/ISO-8601/);
  });

  it("reports a quorum larger than the approvers", () => {
    expect(
      problemsOf([{ id: "g", type: "approval", message: "ok?", approvers: ["a@x"], quorum: 2 }]),
    ).toEqual([
      {
        nodeId: "g",
        path: ["nodes", 0, "quorum"],
        message: "quorum 2 is more than the 1 approver(s) listed",
      },
    ]);
  });

  it("allows fargate only on code, tool and agent nodes", () => {
    const problems = problemsOf([
      { id: "w", type: "wait", seconds: 1, runtime: "fargate" },
      { id: "c", type: "code", code: "return 1", runtime: "fargate" },
    ]);

    expect(problems).toEqual([
      { nodeId: "w", path: ["nodes", 0, "runtime"], message: expect.stringContaining("not wait") },
    ]);
  });

  it("reports notifyAt above autoApproveAt", () => {
    const problems = problemsOf([
      { id: "s", type: "agent", agent: "x", review: { autoApproveAt: 0.5, notifyAt: 0.8 } },
    ]);

    expect(problems.map((p) => p.path.join("."))).toEqual(["nodes.0.review.notifyAt"]);
  });
});

describe("Lambda step timeouts", () => {
  const limit = MAX_LAMBDA_STEP_SECONDS;

  it("keeps a Lambda step within the worker's own timeout", () => {
    expect(limit).toBeLessThan(manifest.functions.worker.timeoutSeconds);
    expect(limit).toBeGreaterThan(0);
  });

  it.each(["code", "tool", "agent"] as const)(
    "refuses a %s node on Lambda whose timeout the worker cannot give it, naming runtime fargate",
    (type) => {
      const extra = { code: { code: "return 1" }, tool: { tool: "http_request" }, agent: { agent: "a" } }[
        type
      ];
      const node = { id: "long", type, ...extra };
      const problems = problemsOf([{ ...node, timeoutSeconds: limit + 1 }]);
      expect(problems).toEqual([
        expect.objectContaining({
          nodeId: "long",
          path: ["nodes", 0, "timeoutSeconds"],
          message: expect.stringContaining('runtime: "fargate"'),
        }),
      ]);
      expect(problemsOf([{ ...node, timeoutSeconds: limit + 1, runtime: "lambda" }])).toHaveLength(1);
    },
  );

  it("accepts the same timeout at the limit, or on Fargate", () => {
    expect(problemsOf([tool("ok", { timeoutSeconds: limit })])).toEqual([]);
    expect(problemsOf([tool("long", { timeoutSeconds: 7 * 86_400, runtime: "fargate" })])).toEqual([]);
  });
});
