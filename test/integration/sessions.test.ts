import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProvider } from "../support/fake-providers.ts";
import { type Platform, request, startPlatform, waitForJob } from "../support/platform.ts";
import { createTenant } from "./identity-support.ts";

/**
 * Sessions end to end on the twin: two jobs in one session, with the scripted provider answering from the
 * first job's turns and the OpenAI fake showing the history it was sent; trimming to the token budget; a
 * failing step that appends nothing; a duplicate append; tenant isolation.
 */

let platform: Platform;
let openai: FakeProvider;
const savedAllow = process.env.SWITCHBOARD_ALLOW_HOSTS;

const ok = async <T = any>(promise: Promise<{ status: number; body: T }>, status = 200): Promise<T> => {
  const result = await promise;
  if (result.status !== status)
    throw new Error(`expected ${status}, got ${result.status}: ${JSON.stringify(result.body)}`);
  return result.body;
};

const chat = {
  name: "chat",
  nodes: [
    {
      id: "reply",
      type: "agent",
      agent: "{% $input.agent %}",
      session: "{% $input.session %}",
      input: "{% $input.say %}",
    },
  ],
};

async function say(agent: string, session: string, text: string, workflow: object = chat) {
  const body = {
    workflow: { ...workflow, nodes: (workflow as typeof chat).nodes.map((n) => ({ ...n, agent })) },
    input: { agent, session, say: text },
  };
  const { jobId } = await ok(platform.api("POST", "/v1/jobs", body), 202);
  return waitForJob(platform, jobId, ["succeeded", "failed"]);
}

beforeAll(async () => {
  openai = await FakeProvider.start("openai");
  process.env.SWITCHBOARD_ALLOW_HOSTS = openai.hostPort;
  platform = await startPlatform();
  await ok(
    platform.api("POST", "/v1/agents", {
      name: "rememberer",
      provider: "scripted",
      model: "rules",
      systemPrompt: "You remember names.",
      tools: ["memory_put"],
      script: {
        rules: [
          // Answers only when the name is somewhere earlier in the conversation: the history must be there.
          {
            match: "my name is (\\w+)[\\s\\S]*what is my name",
            scope: "conversation",
            reply: "Your name is $1.",
          },
          { match: "what is my name", reply: "I do not know." },
          {
            match: "^my name is (\\w+)",
            toolCall: { name: "memory_put", arguments: { namespace: "people", key: "name", value: "$1" } },
          },
          { match: '"stored":true', reply: "Nice to meet you." },
        ],
      },
    }),
    201,
  );
  await ok(
    platform.api("POST", "/v1/agents", {
      name: "looper",
      provider: "scripted",
      model: "rules",
      maxTurns: 2,
      tools: ["memory_get"],
      script: {
        rules: [{ match: ".", toolCall: { name: "memory_get", arguments: { namespace: "x", key: "y" } } }],
      },
    }),
    201,
  );
  await ok(
    platform.api("POST", "/v1/agents", {
      name: "gpt",
      provider: "openai",
      model: "gpt-4o-mini",
      baseUrl: `${openai.url}/v1`,
    }),
    201,
  );
});

afterAll(async () => {
  await platform?.stop();
  await openai?.close();
  process.env.SWITCHBOARD_ALLOW_HOSTS = savedAllow;
});

describe("sessions", () => {
  it("are created for an agent, listed, and refused for an unknown agent", async () => {
    const session = await ok(
      platform.api("POST", "/v1/sessions", { agent: "rememberer", metadata: { user: "ada" } }),
      201,
    );
    const unknown = await platform.api("POST", "/v1/sessions", { agent: "nobody" });
    const listed = await ok(platform.api("GET", "/v1/sessions"));

    expect(session).toMatchObject({
      id: expect.stringMatching(/^ses_/),
      agent: "rememberer",
      turns: 0,
      metadata: { user: "ada" },
    });
    expect(unknown.status).toBe(400);
    expect(listed.items[0].id).toBe(session.id);
  });

  it("carry a conversation across two jobs: the second job's model answers from the first job's turns", async () => {
    const session = await ok(platform.api("POST", "/v1/sessions", { agent: "rememberer" }), 201);
    const fresh = await ok(platform.api("POST", "/v1/sessions", { agent: "rememberer" }), 201);

    const first = await say("rememberer", session.id, "My name is Ada");
    const second = await say("rememberer", session.id, "What is my name?");
    const elsewhere = await say("rememberer", fresh.id, "What is my name?");
    const transcript = await ok(platform.api("GET", `/v1/sessions/${session.id}`));

    expect(first.status).toBe("succeeded");
    expect(first.steps[0].output.text).toBe("Nice to meet you.");
    expect(second.steps[0].output.text).toBe("Your name is Ada.");
    expect(elsewhere.steps[0].output.text).toBe("I do not know.");
    expect(transcript.turns).toBe(2);
    expect(transcript.messages.map((m: { role: string }) => m.role)).toEqual([
      "user",
      "assistant",
      "tool",
      "assistant",
      "user",
      "assistant",
    ]);
    expect(transcript.messages[0]).toMatchObject({
      role: "user",
      content: "My name is Ada",
      jobId: first.id,
      nodeId: "reply",
    });
    expect(transcript.messages[1].toolCalls[0]).toMatchObject({
      name: "memory_put",
      arguments: { value: "Ada" },
    });
    expect(transcript.messages[2]).toMatchObject({ role: "tool", name: "memory_put" });
    expect(transcript.messages[5]).toMatchObject({
      role: "assistant",
      content: "Your name is Ada.",
      jobId: second.id,
    });
  });

  it("give a real provider the history before the new prompt", async () => {
    const session = await ok(platform.api("POST", "/v1/sessions", { agent: "gpt" }), 201);
    openai.enqueue({ text: "Hello Ada." }, { text: "You are Ada." });

    await say("gpt", session.id, "I am Ada");
    await say("gpt", session.id, "Who am I?");

    const sent = openai.requests
      .at(-1)
      ?.body.messages.map((m: { role: string; content: string }) => [m.role, m.content]);
    expect(sent).toEqual([
      ["user", "I am Ada"],
      ["assistant", "Hello Ada."],
      ["user", "Who am I?"],
    ]);
  });

  it("trim the history to the token budget by dropping the oldest whole turns", async () => {
    const session = await ok(platform.api("POST", "/v1/sessions", { agent: "gpt" }), 201);
    openai.reset();
    await say("gpt", session.id, `first ${"a".repeat(400)}`);
    await say("gpt", session.id, "second");
    const saved = process.env.SESSION_HISTORY_TOKENS;
    process.env.SESSION_HISTORY_TOKENS = "50";
    try {
      await say("gpt", session.id, "third");
    } finally {
      if (saved === undefined) delete process.env.SESSION_HISTORY_TOKENS;
      else process.env.SESSION_HISTORY_TOKENS = saved;
    }

    const sent = openai.requests.at(-1)?.body.messages.map((m: { content: string }) => m.content);
    expect(sent).toEqual(["second", "Hello from the fake model.", "third"]);
  });

  it("append nothing for a failed attempt, and the retry's turn once", async () => {
    const session = await ok(platform.api("POST", "/v1/sessions", { agent: "gpt" }), 201);
    openai.reset();
    // The first attempt fails after the provider wrapper's own retries; the node's retry then succeeds.
    openai.enqueue(...Array.from({ length: 4 }, () => ({ status: 500 })), { text: "Recovered." });
    const retried = {
      name: "chat",
      nodes: [{ ...chat.nodes[0], retry: { maxAttempts: 2, intervalSeconds: 0 } }],
    };

    const job = await say("gpt", session.id, "try hard", retried);
    const after = await ok(platform.api("GET", `/v1/sessions/${session.id}`));

    expect(job.status).toBe("succeeded");
    expect(job.steps[0]).toMatchObject({ attempt: 2, output: { text: "Recovered." } });
    expect(after.turns).toBe(1);
    expect(after.messages.map((m: { content: string }) => m.content)).toEqual(["try hard", "Recovered."]);
  });

  it("append nothing when the step fails for good", async () => {
    const session = await ok(platform.api("POST", "/v1/sessions", { agent: "looper" }), 201);

    const job = await say("looper", session.id, "go");
    const after = await ok(platform.api("GET", `/v1/sessions/${session.id}`));

    expect(job.status).toBe("failed");
    expect(job.steps[0].error).toMatchObject({ code: "AGENT_MAX_TURNS" });
    expect(after).toMatchObject({ turns: 0, messages: [] });
  });

  it("append a step's turn once, keyed by the step", async () => {
    const { recordTurn } = await import("#shared/sessions/service");
    const tenantId = (await ok(platform.api("GET", "/v1/me"))).tenantId;
    const session = await ok(platform.api("POST", "/v1/sessions", { agent: "gpt" }), 201);
    const turn = {
      tenantId,
      sessionId: session.id,
      jobId: "j_dup",
      nodeId: "reply",
      messages: [{ role: "user" as const, content: "hi" }],
    };

    const first = await recordTurn(turn);
    const second = await recordTurn(turn);
    const gone = await recordTurn({ ...turn, sessionId: "ses_missing", jobId: "j_other" });
    const after = await ok(platform.api("GET", `/v1/sessions/${session.id}`));

    expect([first, second, gone]).toEqual(["appended", "duplicate", "gone"]);
    expect(after.turns).toBe(1);
    expect(after.messages).toHaveLength(1);
  });

  it("fail the step clearly for an unknown session or another agent's session", async () => {
    const theirs = await ok(platform.api("POST", "/v1/sessions", { agent: "gpt" }), 201);

    const unknown = await say("rememberer", "ses_nope", "hello");
    const mismatch = await say("rememberer", theirs.id, "hello");

    expect(unknown.steps[0].error).toMatchObject({ code: "SESSION_NOT_FOUND" });
    expect(mismatch.steps[0].error).toMatchObject({ code: "SESSION_AGENT_MISMATCH" });
  });

  it("are invisible to other tenants, and deleted with their history", async () => {
    const session = await ok(platform.api("POST", "/v1/sessions", { agent: "rememberer" }), 201);
    await say("rememberer", session.id, "My name is Bo");
    const other = await createTenant(platform, "Sessions");
    const asOther = (method: string, path: string) =>
      request<any>(platform.url, method, path, undefined, { authorization: `Bearer ${other.token}` });

    const get = await asOther("GET", `/v1/sessions/${session.id}`);
    const del = await asOther("DELETE", `/v1/sessions/${session.id}`);
    const list = await asOther("GET", "/v1/sessions");
    const deleted = await platform.api("DELETE", `/v1/sessions/${session.id}`);
    const gone = await platform.api("GET", `/v1/sessions/${session.id}`);

    expect(get.status).toBe(404);
    expect(del.status).toBe(404);
    expect(list.body.items).toEqual([]);
    expect(deleted.status).toBe(204);
    expect(gone.status).toBe(404);
  });
});
