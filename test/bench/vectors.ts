/**
 * Vector memory on the twin: QueryVectors latency (p50, p99) over 10,000 vectors of the local embedder's
 * size, PutVectors throughput, recall against brute force (the twin's exact search must return the same
 * neighbours), and how the local hashing embedder ranks a small labelled set. Runs the S3 Vectors twin on
 * loopback and talks to it with the real SDK client. `npm run bench:vectors`; BENCH_VECTORS and
 * BENCH_QUERIES change the sizes. Prints a table and writes test/bench/vectors-results.json.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateIndexCommand,
  PutVectorsCommand,
  QueryVectorsCommand,
  S3VectorsClient,
} from "@aws-sdk/client-s3vectors";
import { createS3Vectors } from "#infra/local/aws-services/s3vectors";
import { startAwsServices } from "#infra/local/aws-services/server";
import { createLogger } from "#infra/local/log";
import { HASHING_DIMENSION, hashingEmbedding } from "#shared/vectors/hashing-embedder";

const VECTORS = Number(process.env.BENCH_VECTORS ?? 10_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const TOP_K = 10;
const DIMENSION = HASHING_DIMENSION;
const BUCKET = "bench-vectors";

/** A seeded generator, so every run measures the same data. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function unit(next: () => number): number[] {
  const v = Array.from({ length: DIMENSION }, () => next() * 2 - 1);
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * (b[i] as number), 0);

const LABELLED: { id: string; text: string }[] = [
  { id: "refunds", text: "Refunds are paid back to the original card within five business days." },
  { id: "shipping", text: "Orders ship from the Lisbon warehouse and arrive in two to four days." },
  { id: "password", text: "To reset your password, open settings and choose forgot password." },
  { id: "invoice", text: "Invoices are emailed as PDF at the end of each billing month." },
  { id: "careers", text: "We are hiring backend engineers in Berlin and Lisbon." },
  { id: "api-keys", text: "Create API keys under settings; each key has a role and can be revoked." },
  { id: "outage", text: "During an outage the status page shows which regions are affected." },
  { id: "gdpr", text: "Personal data is deleted within thirty days of a deletion request." },
];
const LABELLED_QUERIES: { text: string; expected: string; lexical: boolean }[] = [
  { text: "when do I get my refund", expected: "refunds", lexical: true },
  { text: "how long does shipping take", expected: "shipping", lexical: true },
  { text: "I forgot my password", expected: "password", lexical: true },
  { text: "where is my monthly invoice", expected: "invoice", lexical: true },
  { text: "are you hiring engineers", expected: "careers", lexical: true },
  { text: "revoke an api key", expected: "api-keys", lexical: true },
  { text: "money back to my credit card", expected: "refunds", lexical: false },
  { text: "delivery time for parcels", expected: "shipping", lexical: false },
  { text: "job openings", expected: "careers", lexical: false },
  { text: "the service is down", expected: "outage", lexical: false },
  { text: "erase my personal information", expected: "gdpr", lexical: false },
  { text: "bill for last month", expected: "invoice", lexical: false },
];

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "bench-vectors-"));
  const s3vectors = createS3Vectors({ region: "us-east-1", dataDir });
  s3vectors.ensureBucket(BUCKET);
  const server = await startAwsServices({
    jsonServices: [],
    restServices: [s3vectors.service],
    log: createLogger({ quiet: true }),
  });
  const client = new S3VectorsClient({
    region: "us-east-1",
    endpoint: server.url,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  });
  try {
    const create = (indexName: string) =>
      client.send(
        new CreateIndexCommand({
          vectorBucketName: BUCKET,
          indexName,
          dataType: "float32",
          dimension: DIMENSION,
          distanceMetric: "cosine",
        }),
      );
    await create("random");
    const next = random(42);
    const data = Array.from({ length: VECTORS }, () => unit(next));

    const putStarted = performance.now();
    for (let i = 0; i < VECTORS; i += 500) {
      await client.send(
        new PutVectorsCommand({
          vectorBucketName: BUCKET,
          indexName: "random",
          vectors: data
            .slice(i, i + 500)
            .map((v, j) => ({ key: `v${i + j}`, data: { float32: v }, metadata: { shard: (i + j) % 10 } })),
        }),
      );
    }
    const putSeconds = (performance.now() - putStarted) / 1000;

    const latencies: number[] = [];
    let agreeing = 0;
    let compared = 0;
    const queries = Array.from({ length: QUERIES }, () => unit(next));
    for (const [q, query] of queries.entries()) {
      const started = performance.now();
      const result = await client.send(
        new QueryVectorsCommand({
          vectorBucketName: BUCKET,
          indexName: "random",
          topK: TOP_K,
          queryVector: { float32: query },
          returnDistance: true,
        }),
      );
      latencies.push(performance.now() - started);
      // Brute force over the data as sent (float32 rounding can swap near-ties, so compare as sets).
      if (q < 50) {
        const exact = data
          .map((v, i) => ({ key: `v${i}`, score: dot(v, query) }))
          .sort((a, b) => b.score - a.score)
          .slice(0, TOP_K)
          .map((m) => m.key);
        const got = new Set((result.vectors ?? []).map((v) => v.key));
        agreeing += exact.filter((key) => got.has(key)).length;
        compared += TOP_K;
      }
    }
    latencies.sort((a, b) => a - b);

    const filtered: number[] = [];
    for (const query of queries.slice(0, 100)) {
      const started = performance.now();
      await client.send(
        new QueryVectorsCommand({
          vectorBucketName: BUCKET,
          indexName: "random",
          topK: TOP_K,
          queryVector: { float32: query },
          filter: { shard: { $in: [1, 2] } },
        }),
      );
      filtered.push(performance.now() - started);
    }
    filtered.sort((a, b) => a - b);

    await create("labelled");
    await client.send(
      new PutVectorsCommand({
        vectorBucketName: BUCKET,
        indexName: "labelled",
        vectors: LABELLED.map((d) => ({ key: d.id, data: { float32: hashingEmbedding(d.text) } })),
      }),
    );
    const hits = { lexical: 0, lexicalTotal: 0, paraphrase: 0, paraphraseTotal: 0 };
    for (const query of LABELLED_QUERIES) {
      const result = await client.send(
        new QueryVectorsCommand({
          vectorBucketName: BUCKET,
          indexName: "labelled",
          topK: 1,
          queryVector: { float32: hashingEmbedding(query.text) },
        }),
      );
      const hit = result.vectors?.[0]?.key === query.expected ? 1 : 0;
      if (query.lexical) {
        hits.lexical += hit;
        hits.lexicalTotal++;
      } else {
        hits.paraphrase += hit;
        hits.paraphraseTotal++;
      }
    }

    const results = {
      vectors: VECTORS,
      dimension: DIMENSION,
      queries: QUERIES,
      topK: TOP_K,
      upsertVectorsPerSecond: Math.round(VECTORS / putSeconds),
      queryP50Ms: Number(percentile(latencies, 50).toFixed(2)),
      queryP99Ms: Number(percentile(latencies, 99).toFixed(2)),
      filteredQueryP50Ms: Number(percentile(filtered, 50).toFixed(2)),
      filteredQueryP99Ms: Number(percentile(filtered, 99).toFixed(2)),
      recallAt10VsBruteForce: agreeing / compared,
      localEmbedderHitAt1: {
        sharedWords: `${hits.lexical}/${hits.lexicalTotal}`,
        paraphrases: `${hits.paraphrase}/${hits.paraphraseTotal}`,
      },
    };
    console.table({
      "PutVectors throughput (vectors/s)": results.upsertVectorsPerSecond,
      [`QueryVectors p50 (ms, ${VECTORS} × ${DIMENSION})`]: results.queryP50Ms,
      "QueryVectors p99 (ms)": results.queryP99Ms,
      "filtered query p50 (ms)": results.filteredQueryP50Ms,
      "filtered query p99 (ms)": results.filteredQueryP99Ms,
      "recall@10 vs brute force": results.recallAt10VsBruteForce,
      "local embedder hit@1, shared words": results.localEmbedderHitAt1.sharedWords,
      "local embedder hit@1, paraphrases": results.localEmbedderHitAt1.paraphrases,
    });
    await writeFile(
      new URL("./vectors-results.json", import.meta.url),
      `${JSON.stringify(results, null, 2)}\n`,
    );
  } finally {
    client.destroy();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
