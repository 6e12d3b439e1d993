import { describe, expect, it } from "vitest";
import { matchesFilter, validateFilter } from "#infra/local/aws-services/s3vectors-filter";
import { CHUNK_CHARS, CHUNK_OVERLAP, chunkText } from "#shared/vectors/chunking";
import { embeddingCost } from "#shared/vectors/embedders";
import { HASHING_DIMENSION, hashingEmbedding, words } from "#shared/vectors/hashing-embedder";
import { indexNameFor } from "#shared/vectors/vector-index";

const cosine = (a: number[], b: number[]) => a.reduce((sum, v, i) => sum + v * (b[i] as number), 0);

describe("chunkText", () => {
  it("keeps a short text whole", () => {
    expect(chunkText("  One sentence.  ")).toEqual(["One sentence."]);
  });

  it("cuts at sentence ends, within the limit, with overlap", () => {
    const sentences = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} is here.`);
    const text = sentences.join(" ");

    const chunks = chunkText(text);

    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(CHUNK_CHARS);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.endsWith(".")).toBe(true);
    // Every sentence is whole in at least one chunk.
    for (const sentence of sentences) expect(chunks.some((chunk) => chunk.includes(sentence))).toBe(true);
    // Consecutive chunks share text: the next starts inside the previous one's last CHUNK_OVERLAP characters.
    for (let i = 1; i < chunks.length; i++) {
      const head = (chunks[i] as string).slice(0, 20);
      expect((chunks[i - 1] as string).slice(-CHUNK_OVERLAP - 20)).toContain(head);
    }
  });

  it("falls back to word boundaries, then to a hard cut for one unbroken token", () => {
    const words = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
    const token = "x".repeat(2500);

    const byWords = chunkText(words);
    const hard = chunkText(token);

    for (const chunk of byWords) expect(chunk).toMatch(/^word\d+( word\d+)*$/);
    // With no word start to move to, the next chunk begins at the cut: no overlap inside one token.
    expect(hard.map((c) => c.length)).toEqual([1000, 1000, 500]);
  });
});

describe("the local hashing embedder", () => {
  it("makes unit vectors of a fixed size, the same for the same text", () => {
    const a = hashingEmbedding("Deploy the service to production");

    expect(a).toHaveLength(HASHING_DIMENSION);
    expect(cosine(a, a)).toBeCloseTo(1, 10);
    expect(hashingEmbedding("Deploy the service to production")).toEqual(a);
    expect(cosine(hashingEmbedding("!!!"), hashingEmbedding("???"))).toBeCloseTo(1, 10);
  });

  it("scores shared words and word forms above unrelated text (it is lexical)", () => {
    const query = hashingEmbedding("deploying services");
    const related = hashingEmbedding("How we deployed the service last week");
    const unrelated = hashingEmbedding("A recipe for lemon cake with icing");

    expect(cosine(query, related)).toBeGreaterThan(0.3);
    expect(cosine(query, related)).toBeGreaterThan(cosine(query, unrelated) + 0.2);
  });

  it("drops stop words, accents and case", () => {
    expect(words("The Café is OPEN, and the cafés are open")).toEqual(["cafe", "open", "cafe", "open"]);
  });
});

describe("embedding prices", () => {
  it("price known models per million tokens and count the rest as free", () => {
    expect(embeddingCost("openai", "text-embedding-3-small", 1_000_000)).toBeCloseTo(0.02, 10);
    expect(embeddingCost("bedrock", "amazon.titan-embed-text-v2:0", 500_000)).toBeCloseTo(0.01, 10);
    expect(embeddingCost("openai", "nomic-embed-text", 1_000_000)).toBe(0);
    expect(embeddingCost("local", "switchboard-hash-v1", 1_000_000)).toBe(0);
  });
});

describe("index names", () => {
  it("follow S3 Vectors' rules and differ per tenant", () => {
    const a = indexNameFor("t_abc", "col_01m8sxmkag298apdej19je9dk2");
    const b = indexNameFor("t_abd", "col_01m8sxmkag298apdej19je9dk2");

    expect(a).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    expect(a).not.toBe(b);
  });
});

describe("S3 Vectors filters", () => {
  const metadata = { genre: "news", year: 2024, tags: ["a", "b"], text: "secret" };

  it.each([
    [{ genre: "news" }, true],
    [{ genre: "sport" }, false],
    [{ year: { $gte: 2024, $lt: 2025 } }, true],
    [{ tags: { $in: ["b", "z"] } }, true],
    [{ tags: { $nin: ["b"] } }, false],
    [{ missing: { $ne: "x" } }, true],
    [{ missing: { $exists: true } }, false],
    [{ $or: [{ genre: "sport" }, { year: 2024 }] }, true],
    [{ $and: [{ genre: "news" }, { year: 2023 }] }, false],
    [{ text: "secret" }, false],
  ])("%j matches: %s", (filter, expected) => {
    validateFilter(filter);
    expect(matchesFilter(filter, metadata, ["text"])).toBe(expected);
  });

  it.each([
    [{}],
    [{ $not: [] }],
    [{ a: { $regex: "x" } }],
    [{ a: { $in: [] } }],
    [{ a: { $gt: "1" } }],
    [{ a: [1] }],
  ])("refuses %j", (filter) => {
    expect(() => validateFilter(filter)).toThrow(/Invalid query filter/);
  });
});
