import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConflictException,
  CreateIndexCommand,
  DeleteIndexCommand,
  DeleteVectorsCommand,
  GetIndexCommand,
  GetVectorsCommand,
  ListIndexesCommand,
  ListVectorsCommand,
  NotFoundException,
  PutVectorsCommand,
  QueryVectorsCommand,
  S3VectorsClient,
  ValidationException,
} from "@aws-sdk/client-s3vectors";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createS3Vectors } from "#infra/local/aws-services/s3vectors";
import { type AwsServicesServer, startAwsServices } from "#infra/local/aws-services/server";
import { createLogger } from "#infra/local/log";

const BUCKET = "test-vectors";
let dataDir: string;
let server: AwsServicesServer;
let client: S3VectorsClient;

async function start(): Promise<void> {
  const s3vectors = createS3Vectors({ region: "us-east-1", dataDir });
  s3vectors.ensureBucket(BUCKET);
  server = await startAwsServices({
    jsonServices: [],
    restServices: [s3vectors.service],
    log: createLogger({ quiet: true }),
  });
  client = new S3VectorsClient({
    region: "us-east-1",
    endpoint: server.url,
    credentials: { accessKeyId: "twin", secretAccessKey: "twin" },
  });
}

async function stop(): Promise<void> {
  client.destroy();
  await server.close();
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "twin-s3vectors-"));
  await start();
});

afterAll(async () => {
  await stop();
  await rm(dataDir, { recursive: true, force: true });
});

let indexCount = 0;
const created: string[] = [];
async function newIndex(dimension = 3, nonFilterable: string[] = []): Promise<string> {
  const indexName = `idx-${++indexCount}`;
  await client.send(
    new CreateIndexCommand({
      vectorBucketName: BUCKET,
      indexName,
      dataType: "float32",
      dimension,
      distanceMetric: "cosine",
      ...(nonFilterable.length === 0
        ? {}
        : { metadataConfiguration: { nonFilterableMetadataKeys: nonFilterable } }),
    }),
  );
  created.push(indexName);
  return indexName;
}

afterEach(async () => {
  for (const indexName of created.splice(0)) {
    await client.send(new DeleteIndexCommand({ vectorBucketName: BUCKET, indexName })).catch(() => undefined);
  }
});

const caught = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe("indexes", () => {
  it("creates, describes, lists and deletes an index", async () => {
    const indexName = await newIndex(4, ["text"]);

    const { index } = await client.send(new GetIndexCommand({ vectorBucketName: BUCKET, indexName }));
    const listed = await client.send(new ListIndexesCommand({ vectorBucketName: BUCKET, prefix: "idx-" }));
    await client.send(new DeleteIndexCommand({ vectorBucketName: BUCKET, indexName }));
    const gone = await caught(client.send(new GetIndexCommand({ vectorBucketName: BUCKET, indexName })));

    expect(index).toMatchObject({
      vectorBucketName: BUCKET,
      indexName,
      indexArn: `arn:aws:s3vectors:us-east-1:000000000000:bucket/${BUCKET}/index/${indexName}`,
      dimension: 4,
      distanceMetric: "cosine",
      dataType: "float32",
      metadataConfiguration: { nonFilterableMetadataKeys: ["text"] },
    });
    expect(index?.creationTime).toBeInstanceOf(Date);
    expect(listed.indexes?.map((i) => i.indexName)).toContain(indexName);
    expect(gone).toBeInstanceOf(NotFoundException);
  });

  it("refuses a second index of the same name with ConflictException", async () => {
    const indexName = await newIndex();

    const error = await caught(
      client.send(
        new CreateIndexCommand({
          vectorBucketName: BUCKET,
          indexName,
          dataType: "float32",
          dimension: 3,
          distanceMetric: "cosine",
        }),
      ),
    );

    expect(error).toBeInstanceOf(ConflictException);
  });

  it.each([
    ["Upper-Case", 3],
    ["ab", 3],
    ["under_score", 3],
    ["-leading", 3],
    ["fine-name", 0],
    ["fine-name", 4097],
  ])("checks names and dimension as AWS does (%s, %i)", async (indexName, dimension) => {
    const error = await caught(
      client.send(
        new CreateIndexCommand({
          vectorBucketName: BUCKET,
          indexName,
          dataType: "float32",
          dimension,
          distanceMetric: "cosine",
        }),
      ),
    );

    expect(error).toBeInstanceOf(ValidationException);
  });

  it("answers NotFoundException for a bucket that does not exist", async () => {
    const error = await caught(client.send(new ListIndexesCommand({ vectorBucketName: "no-such-bucket" })));

    expect(error).toBeInstanceOf(NotFoundException);
  });
});

describe("vectors", () => {
  it("puts, gets, lists and deletes vectors", async () => {
    const indexName = await newIndex();
    await client.send(
      new PutVectorsCommand({
        vectorBucketName: BUCKET,
        indexName,
        vectors: [
          { key: "a", data: { float32: [1, 0, 0] }, metadata: { kind: "x" } },
          { key: "b", data: { float32: [0, 1, 0] } },
        ],
      }),
    );

    const got = await client.send(
      new GetVectorsCommand({
        vectorBucketName: BUCKET,
        indexName,
        keys: ["a", "missing"],
        returnData: true,
        returnMetadata: true,
      }),
    );
    await client.send(new DeleteVectorsCommand({ vectorBucketName: BUCKET, indexName, keys: ["a"] }));
    const listed = await client.send(new ListVectorsCommand({ vectorBucketName: BUCKET, indexName }));

    expect(got.vectors).toEqual([{ key: "a", data: { float32: [1, 0, 0] }, metadata: { kind: "x" } }]);
    expect(listed.vectors?.map((v) => v.key)).toEqual(["b"]);
  });

  it("pages ListVectors with nextToken", async () => {
    const indexName = await newIndex();
    await client.send(
      new PutVectorsCommand({
        vectorBucketName: BUCKET,
        indexName,
        vectors: Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, data: { float32: [1, i, 0] } })),
      }),
    );

    const keys: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(
        new ListVectorsCommand({ vectorBucketName: BUCKET, indexName, maxResults: 2, nextToken }),
      );
      keys.push(...(page.vectors ?? []).map((v) => v.key as string));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);

    expect(keys).toEqual(["k0", "k1", "k2", "k3", "k4"]);
  });

  it("refuses a vector of the wrong dimension, and writes nothing of that batch", async () => {
    const indexName = await newIndex();

    const error = await caught(
      client.send(
        new PutVectorsCommand({
          vectorBucketName: BUCKET,
          indexName,
          vectors: [
            { key: "ok", data: { float32: [1, 0, 0] } },
            { key: "bad", data: { float32: [1, 0] } },
          ],
        }),
      ),
    );
    const listed = await client.send(new ListVectorsCommand({ vectorBucketName: BUCKET, indexName }));

    expect(error).toBeInstanceOf(ValidationException);
    expect((error as Error).message).toMatch(/dimension/);
    expect(listed.vectors).toEqual([]);
  });

  it("refuses more than 500 vectors in one put", async () => {
    const indexName = await newIndex();

    const error = await caught(
      client.send(
        new PutVectorsCommand({
          vectorBucketName: BUCKET,
          indexName,
          vectors: Array.from({ length: 501 }, (_, i) => ({ key: `k${i}`, data: { float32: [1, 0, 0] } })),
        }),
      ),
    );

    expect(error).toBeInstanceOf(ValidationException);
  });

  it("refuses filterable metadata over 2 KB but keeps non-filterable text up to 40 KB", async () => {
    const indexName = await newIndex(3, ["text"]);

    const tooBig = await caught(
      client.send(
        new PutVectorsCommand({
          vectorBucketName: BUCKET,
          indexName,
          vectors: [{ key: "a", data: { float32: [1, 0, 0] }, metadata: { note: "x".repeat(3000) } }],
        }),
      ),
    );
    await client.send(
      new PutVectorsCommand({
        vectorBucketName: BUCKET,
        indexName,
        vectors: [{ key: "a", data: { float32: [1, 0, 0] }, metadata: { text: "x".repeat(30_000) } }],
      }),
    );

    expect(tooBig).toBeInstanceOf(ValidationException);
  });
});

describe("QueryVectors", () => {
  async function seeded(): Promise<string> {
    const indexName = await newIndex(3, ["text"]);
    await client.send(
      new PutVectorsCommand({
        vectorBucketName: BUCKET,
        indexName,
        vectors: [
          {
            key: "x",
            data: { float32: [1, 0, 0] },
            metadata: { genre: "news", year: 2020, tags: ["a", "b"] },
          },
          { key: "xy", data: { float32: [1, 1, 0] }, metadata: { genre: "sport", year: 2022, tags: ["b"] } },
          { key: "y", data: { float32: [0, 1, 0] }, metadata: { genre: "news", year: 2024, text: "hidden" } },
          { key: "z", data: { float32: [0, 0, 1] }, metadata: { genre: "blog" } },
        ],
      }),
    );
    return indexName;
  }

  const query = (indexName: string, extra: Record<string, unknown> = {}) =>
    client.send(
      new QueryVectorsCommand({
        vectorBucketName: BUCKET,
        indexName,
        topK: 10,
        queryVector: { float32: [1, 0.1, 0] },
        returnDistance: true,
        returnMetadata: true,
        ...extra,
      }),
    );

  it("returns the nearest vectors by cosine distance, best first, with distances and metadata", async () => {
    const indexName = await seeded();

    const result = await query(indexName, { topK: 2 });

    expect(result.distanceMetric).toBe("cosine");
    expect(result.vectors?.map((v) => v.key)).toEqual(["x", "xy"]);
    const expected = 1 - 1 / Math.sqrt(1.01);
    expect(result.vectors?.[0]?.distance).toBeCloseTo(expected, 5);
    expect(result.vectors?.[0]?.metadata).toEqual({ genre: "news", year: 2020, tags: ["a", "b"] });
  });

  it.each([
    [{ genre: "news" }, ["x", "y"]],
    [{ genre: { $eq: "news" } }, ["x", "y"]],
    [{ genre: { $ne: "news" } }, ["xy", "z"]],
    [{ year: { $gt: 2020 } }, ["xy", "y"]],
    [{ year: { $gte: 2020, $lt: 2024 } }, ["x", "xy"]],
    [{ year: { $lte: 2022 } }, ["x", "xy"]],
    [{ genre: { $in: ["sport", "blog"] } }, ["xy", "z"]],
    [{ genre: { $nin: ["sport", "blog"] } }, ["x", "y"]],
    [{ year: { $exists: false } }, ["z"]],
    [{ tags: "b" }, ["x", "xy"]],
    [{ $and: [{ genre: "news" }, { year: { $gt: 2021 } }] }, ["y"]],
    [{ $or: [{ genre: "blog" }, { year: 2020 }] }, ["x", "z"]],
    [{ text: "hidden" }, []],
  ])("filters on metadata: %j", async (filter, keys) => {
    const indexName = await seeded();

    const result = await query(indexName, { filter });

    expect(result.vectors?.map((v) => v.key).sort()).toEqual(keys);
  });

  it.each([
    [{ topK: 0 }],
    [{ topK: 101 }],
    [{ queryVector: { float32: [1, 0] } }],
    [{ filter: { genre: { $like: "n%" } } }],
    [{ filter: { $nor: [] } }],
    [{ filter: { year: { $gt: "2020" } } }],
  ])("refuses a bad query as AWS does: %j", async (extra) => {
    const indexName = await seeded();

    const error = await caught(query(indexName, extra));

    expect(error).toBeInstanceOf(ValidationException);
  });

  it("keeps its data across a restart", async () => {
    const indexName = await seeded();
    await client.send(new DeleteVectorsCommand({ vectorBucketName: BUCKET, indexName, keys: ["z"] }));

    await stop();
    await start();
    const result = await query(indexName);
    const { index } = await client.send(new GetIndexCommand({ vectorBucketName: BUCKET, indexName }));

    expect(result.vectors?.map((v) => v.key)).toEqual(["x", "xy", "y"]);
    expect(index?.dimension).toBe(3);
  });
});
