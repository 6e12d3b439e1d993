import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAKE_EMBEDDING_DIMENSION, FakeProvider } from "../support/fake-providers.ts";
import { type Platform, request, startPlatform, waitForJob } from "../support/platform.ts";
import { createTenant } from "./identity-support.ts";

/**
 * Collections end to end on the twin: the REST routes, the S3 Vectors twin behind them, the three embedders
 * (local, an OpenAI-compatible fake, a Bedrock Titan fake), the vector tools in `tool` nodes and agents,
 * usage, and tenant isolation.
 */

let platform: Platform;
let openai: FakeProvider;
let bedrock: FakeProvider;
const savedAllow = process.env.SWITCHBOARD_ALLOW_HOSTS;
const OPENAI_KEY = "sk-embed-3c4d5e6f7a8b";

const ok = async <T = any>(promise: Promise<{ status: number; body: T }>, status = 200): Promise<T> => {
  const result = await promise;
  if (result.status !== status)
    throw new Error(`expected ${status}, got ${result.status}: ${JSON.stringify(result.body)}`);
  return result.body;
};

beforeAll(async () => {
  openai = await FakeProvider.start("openai");
  bedrock = await FakeProvider.start("bedrock");
  process.env.SWITCHBOARD_ALLOW_HOSTS = `${openai.hostPort},${bedrock.hostPort}`;
  platform = await startPlatform();
  await ok(platform.api("POST", "/v1/secrets", { name: "openai-key", value: OPENAI_KEY }), 201);
  await ok(
    platform.api("POST", "/v1/secrets", { name: "bedrock-key", value: "bedrock-api-key-9f8e7d" }),
    201,
  );
});

afterAll(async () => {
  await platform?.stop();
  await openai?.close();
  await bedrock?.close();
  process.env.SWITCHBOARD_ALLOW_HOSTS = savedAllow;
});

const FAQ = [
  {
    id: "refunds",
    text: "Refunds are paid back to the original card within five business days.",
    metadata: { kind: "faq", year: 2024 },
  },
  {
    id: "shipping",
    text: "Orders ship from our warehouse in Lisbon; shipping takes two to four days.",
    metadata: { kind: "faq", year: 2023 },
  },
  {
    id: "careers",
    text: "We are hiring engineers in Lisbon and Berlin. Send your CV to jobs@example.com.",
    metadata: { kind: "jobs", year: 2024 },
  },
];

describe("a local collection", () => {
  it("is created once per name, listed, and refused a second time with 409", async () => {
    const created = await ok(
      platform.api("POST", "/v1/collections", { name: "kb-once", embedding: { provider: "local" } }),
      201,
    );
    const again = await platform.api("POST", "/v1/collections", {
      name: "KB-once",
      embedding: { provider: "local" },
    });
    const listed = await ok(platform.api("GET", "/v1/collections"));

    expect(created).toMatchObject({
      id: expect.stringMatching(/^col_/),
      name: "kb-once",
      embedding: { provider: "local", model: "switchboard-hash-v1" },
      dimension: 512,
      documents: 0,
    });
    expect(created).not.toHaveProperty("indexName");
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: "CONFLICT", requestId: expect.any(String) });
    expect(listed.items.map((c: { name: string }) => c.name)).toContain("kb-once");
  });

  it("answers a query with the best chunks first, each with its document id, text and metadata", async () => {
    await ok(platform.api("POST", "/v1/collections", { name: "faq" }), 201);
    const upserted = await ok(platform.api("PUT", "/v1/collections/faq/documents", { documents: FAQ }));

    const { matches } = await ok(
      platform.api("POST", "/v1/collections/faq/query", {
        text: "how long do refunds take to be paid?",
        topK: 2,
      }),
    );
    const collection = await ok(platform.api("GET", "/v1/collections/faq"));

    expect(upserted.documents).toEqual([
      { id: "refunds", chunks: 1 },
      { id: "shipping", chunks: 1 },
      { id: "careers", chunks: 1 },
    ]);
    expect(upserted.usage.inputTokens).toBeGreaterThan(0);
    expect(matches).toHaveLength(2);
    expect(matches[0]).toEqual({
      id: "refunds",
      chunk: 0,
      score: expect.any(Number),
      text: FAQ[0]?.text,
      metadata: { kind: "faq", year: 2024 },
    });
    expect(matches[0].score).toBeGreaterThan(matches[1].score);
    expect(collection.documents).toBe(3);
  });

  it("filters on metadata with the S3 Vectors syntax", async () => {
    const { matches } = await ok(
      platform.api("POST", "/v1/collections/faq/query", {
        text: "Lisbon",
        topK: 5,
        filter: { $and: [{ kind: "faq" }, { year: { $lt: 2024 } }] },
      }),
    );

    expect(matches.map((m: { id: string }) => m.id)).toEqual(["shipping"]);
  });

  it("chunks a long text and returns the chunk that matches", async () => {
    await ok(platform.api("POST", "/v1/collections", { name: "handbook" }), 201);
    const filler = (topic: string, n: number) =>
      Array.from({ length: n }, (_, i) => `Section ${i} talks about ${topic} in general terms.`).join(" ");
    const text = `${filler("holidays", 30)} The parking garage opens at seven and closes at midnight. ${filler("holidays", 30)}`;

    const upserted = await ok(
      platform.api("PUT", "/v1/collections/handbook/documents", { documents: [{ id: "handbook", text }] }),
    );
    const { matches } = await ok(
      platform.api("POST", "/v1/collections/handbook/query", {
        text: "when does the parking garage open",
        topK: 1,
      }),
    );

    expect(upserted.documents[0].chunks).toBeGreaterThan(2);
    expect(matches[0].id).toBe("handbook");
    expect(matches[0].chunk).toBeGreaterThan(0);
    expect(matches[0].text).toContain("parking garage opens at seven");
    expect(matches[0].text.length).toBeLessThanOrEqual(1000);
  });

  it("replaces a document's old chunks when it is upserted again, and deletes a document", async () => {
    await ok(platform.api("POST", "/v1/collections", { name: "replace" }), 201);
    const long = Array.from(
      { length: 40 },
      (_, i) => `Paragraph ${i} is about zebras and their stripes.`,
    ).join(" ");
    await ok(
      platform.api("PUT", "/v1/collections/replace/documents", { documents: [{ id: "doc", text: long }] }),
    );

    await ok(
      platform.api("PUT", "/v1/collections/replace/documents", {
        documents: [{ id: "doc", text: "Now it is about penguins." }],
      }),
    );
    const zebras = await ok(
      platform.api("POST", "/v1/collections/replace/query", { text: "zebras stripes", topK: 10 }),
    );
    const deleted = await platform.api("DELETE", "/v1/collections/replace/documents/doc");
    const again = await platform.api("DELETE", "/v1/collections/replace/documents/doc");
    const empty = await ok(
      platform.api("POST", "/v1/collections/replace/query", { text: "penguins", topK: 10 }),
    );
    const collection = await ok(platform.api("GET", "/v1/collections/replace"));

    expect(zebras.matches).toHaveLength(1);
    expect(zebras.matches[0]).toMatchObject({ id: "doc", chunk: 0, text: "Now it is about penguins." });
    expect(deleted.status).toBe(204);
    expect(again.status).toBe(404);
    expect(empty.matches).toEqual([]);
    expect(collection.documents).toBe(0);
  });

  it("refuses bad input with the contract's errors", async () => {
    const unknown = await platform.api("POST", "/v1/collections/nope/query", { text: "x" });
    const badFilter = await platform.api("POST", "/v1/collections/faq/query", {
      text: "x",
      filter: { year: { $like: 1 } },
    });
    const topK = await platform.api("POST", "/v1/collections/faq/query", { text: "x", topK: 101 });
    const reserved = await platform.api("PUT", "/v1/collections/faq/documents", {
      documents: [{ id: "a", text: "x", metadata: { _doc: "b" } }],
    });
    const twice = await platform.api("PUT", "/v1/collections/faq/documents", {
      documents: [
        { id: "a", text: "x" },
        { id: "a", text: "y" },
      ],
    });

    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("NOT_FOUND");
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.message).toMatch(/\$like/);
    expect(topK.status).toBe(400);
    expect(reserved.status).toBe(400);
    expect(twice.status).toBe(400);
  });

  it("counts the embedder's tokens in /v1/usage", async () => {
    const usage = await ok(platform.api("GET", "/v1/usage?groupBy=model"));

    const local = usage.items.find((item: { key: string }) => item.key === "local/switchboard-hash-v1");
    expect(local).toMatchObject({ steps: 0, outputTokens: 0, costUsd: 0 });
    expect(local.inputTokens).toBeGreaterThan(0);
  });

  it("is deleted with its documents, and the name can be used again", async () => {
    await ok(platform.api("POST", "/v1/collections", { name: "temp" }), 201);
    await ok(
      platform.api("PUT", "/v1/collections/temp/documents", { documents: [{ id: "a", text: "alpha beta" }] }),
    );

    const deleted = await platform.api("DELETE", "/v1/collections/temp");
    const gone = await platform.api("POST", "/v1/collections/temp/query", { text: "alpha" });
    await ok(platform.api("POST", "/v1/collections", { name: "temp" }), 201);
    const fresh = await ok(platform.api("POST", "/v1/collections/temp/query", { text: "alpha" }));

    expect(deleted.status).toBe(204);
    expect(gone.status).toBe(404);
    expect(fresh.matches).toEqual([]);
  });
});

describe("tenants", () => {
  it("never see each other's collections: 404, not listed, and the same name is free", async () => {
    const other = await createTenant(platform, "Vectors");
    const asOther = (method: string, path: string, body?: unknown) =>
      request<any>(platform.url, method, path, body, { authorization: `Bearer ${other.token}` });

    const query = await asOther("POST", "/v1/collections/faq/query", { text: "refunds" });
    const get = await asOther("GET", "/v1/collections/faq");
    const put = await asOther("PUT", "/v1/collections/faq/documents", {
      documents: [{ id: "x", text: "y" }],
    });
    const del = await asOther("DELETE", "/v1/collections/faq");
    const list = await asOther("GET", "/v1/collections");
    const own = await asOther("POST", "/v1/collections", { name: "faq" });
    const ownQuery = await asOther("POST", "/v1/collections/faq/query", { text: "refunds" });
    const mine = await ok(platform.api("POST", "/v1/collections/faq/query", { text: "refunds" }));

    for (const result of [query, get, put, del]) expect(result.status).toBe(404);
    expect(list.body.items).toEqual([]);
    expect(own.status).toBe(201);
    expect(ownQuery.body.matches).toEqual([]);
    expect(mine.matches[0].id).toBe("refunds");
  });
});

describe("an OpenAI-compatible embedder", () => {
  it("learns the model's size, embeds in batches with the stored key, and counts the tokens", async () => {
    openai.reset();
    const created = await ok(
      platform.api("POST", "/v1/collections", {
        name: "oa",
        embedding: { provider: "openai", baseUrl: `${openai.url}/v1`, secret: "openai-key" },
      }),
      201,
    );
    await ok(platform.api("PUT", "/v1/collections/oa/documents", { documents: FAQ }));
    const { matches } = await ok(
      platform.api("POST", "/v1/collections/oa/query", { text: FAQ[1]?.text, topK: 1 }),
    );
    const usage = await ok(platform.api("GET", "/v1/usage?groupBy=model"));

    expect(created).toMatchObject({
      dimension: FAKE_EMBEDDING_DIMENSION,
      embedding: { provider: "openai", model: "text-embedding-3-small" },
    });
    expect(matches[0].id).toBe("shipping");
    expect(matches[0].score).toBeCloseTo(1, 5);
    const calls = openai.requests.filter((r) => r.path === "/v1/embeddings");
    expect(calls).toHaveLength(3);
    expect(calls[1]?.body).toMatchObject({
      model: "text-embedding-3-small",
      input: FAQ.map((d) => d.text),
      encoding_format: "float",
    });
    expect(calls[1]?.body).not.toHaveProperty("dimensions");
    expect(calls[1]?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    const row = usage.items.find((item: { key: string }) => item.key === "openai/text-embedding-3-small");
    expect(row?.inputTokens).toBeGreaterThan(0);
    expect(row?.costUsd).toBeGreaterThan(0);
  });

  it("answers 502 EMBEDDING_FAILED when the provider fails, without the key", async () => {
    openai.enqueue({ status: 500, errorMessage: `boom ${OPENAI_KEY}` });

    const result = await platform.api("POST", "/v1/collections/oa/query", { text: "anything" });

    expect(result.status).toBe(502);
    expect(result.body.code).toBe("EMBEDDING_FAILED");
    expect(JSON.stringify(result.body)).not.toContain(OPENAI_KEY);
  });

  it("is refused by the egress guard when its endpoint is not allow-listed", async () => {
    const result = await platform.api("POST", "/v1/collections", {
      name: "blocked",
      embedding: { provider: "openai", baseUrl: "http://127.0.0.1:9/v1", dimensions: 8 },
    });
    const probe = await platform.api("POST", "/v1/collections", {
      name: "blocked-probe",
      embedding: { provider: "openai", baseUrl: "http://127.0.0.1:9/v1" },
    });
    const query = await platform.api("PUT", "/v1/collections/blocked/documents", {
      documents: [{ id: "a", text: "b" }],
    });

    expect(result.status).toBe(201);
    expect(probe.status).toBe(400);
    expect(probe.body.code).toBe("EGRESS_DENIED");
    expect(query.status).toBe(400);
    expect(query.body.code).toBe("EGRESS_DENIED");
  });
});

describe("Bedrock Titan Text Embeddings v2", () => {
  it("embeds through InvokeModel at the collection's size", async () => {
    bedrock.reset();
    const created = await ok(
      platform.api("POST", "/v1/collections", {
        name: "titan",
        embedding: { provider: "bedrock", baseUrl: bedrock.url, secret: "bedrock-key", dimensions: 256 },
      }),
      201,
    );
    await ok(platform.api("PUT", "/v1/collections/titan/documents", { documents: FAQ }));
    const { matches } = await ok(
      platform.api("POST", "/v1/collections/titan/query", { text: FAQ[2]?.text, topK: 1 }),
    );
    const wrongSize = await platform.api("POST", "/v1/collections", {
      name: "titan-bad",
      embedding: { provider: "bedrock", baseUrl: bedrock.url, dimensions: 300 },
    });

    expect(created).toMatchObject({ dimension: 256, embedding: { model: "amazon.titan-embed-text-v2:0" } });
    expect(matches[0].id).toBe("careers");
    expect(bedrock.requests).toHaveLength(4);
    expect(bedrock.requests[0]?.path).toBe(
      `/model/${encodeURIComponent("amazon.titan-embed-text-v2:0")}/invoke`,
    );
    expect(bedrock.requests[0]?.body).toEqual({ inputText: FAQ[0]?.text, normalize: true, dimensions: 256 });
    expect(bedrock.requests[0]?.headers.authorization).toBe("Bearer bedrock-api-key-9f8e7d");
    expect(wrongSize.status).toBe(400);
  });
});

describe("the vector tools", () => {
  it("upsert and search from tool nodes", async () => {
    await ok(platform.api("POST", "/v1/collections", { name: "notes" }), 201);
    const { jobId } = await ok(
      platform.api("POST", "/v1/jobs", {
        workflow: {
          name: "remember",
          nodes: [
            {
              id: "save",
              type: "tool",
              tool: "vector_upsert",
              input: { collection: "notes", documents: "{% $input.notes %}" },
            },
            {
              id: "find",
              type: "tool",
              tool: "vector_search",
              dependsOn: ["save"],
              input: { collection: "notes", query: "which colour is the kettle", topK: 1 },
            },
          ],
          output: { best: "{% $steps.find.output.matches[0] %}" },
        },
        input: {
          notes: [
            { id: "n1", text: "The kettle in the kitchen is red.", metadata: { room: "kitchen" } },
            { id: "n2", text: "The sofa in the lounge is green.", metadata: { room: "lounge" } },
          ],
        },
      }),
      202,
    );

    const job = await waitForJob(platform, jobId, ["succeeded", "failed"]);

    expect(job.status).toBe("succeeded");
    expect(job.output.best).toMatchObject({
      id: "n1",
      text: "The kettle in the kitchen is red.",
      metadata: { room: "kitchen" },
    });
    const byJob = await ok(platform.api("GET", "/v1/usage?groupBy=job"));
    expect(byJob.items.find((item: { key: string }) => item.key === jobId)?.inputTokens).toBeGreaterThan(0);
  });

  it("serve an agent's tool loop, and a missing collection comes back to the model as an error", async () => {
    await ok(
      platform.api("POST", "/v1/agents", {
        name: "librarian",
        provider: "scripted",
        model: "rules",
        tools: ["vector_search"],
        script: {
          rules: [
            {
              match: "^search (\\w+) for (.+)$",
              toolCall: { name: "vector_search", arguments: { collection: "$1", query: "$2", topK: 1 } },
            },
            { match: '"matches":\\[\\{"id":"(\\w+)"', reply: "Found $1" },
            { match: "NOT_FOUND|not found", reply: "No such collection" },
          ],
        },
      }),
      201,
    );
    const run = async (prompt: string) => {
      const { jobId } = await ok(
        platform.api("POST", "/v1/jobs", {
          workflow: { name: "ask", nodes: [{ id: "ask", type: "agent", agent: "librarian", input: prompt }] },
        }),
        202,
      );
      return waitForJob(platform, jobId, ["succeeded", "failed"]);
    };

    const found = await run("search faq for refunds to my card");
    const missing = await run("search nothing for refunds");

    expect(found.status).toBe("succeeded");
    expect(found.steps[0].output.text).toBe("Found refunds");
    expect(found.steps[0].output.toolCalls[0]).toMatchObject({
      name: "vector_search",
      result: { matches: [{ id: "refunds" }] },
    });
    expect(missing.steps[0].output.text).toBe("No such collection");
    expect(missing.steps[0].output.toolCalls[0].error).toMatchObject({ code: "TOOL_ERROR" });
  });
});
