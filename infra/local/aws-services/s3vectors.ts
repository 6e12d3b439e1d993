import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { AwsServiceError, type RawRequest, type RawResponse, type RestService } from "./protocol.ts";
import { matchesFilter, validateFilter } from "./s3vectors-filter.ts";

/**
 * Amazon S3 Vectors, the operations the application uses: CreateVectorBucket, GetVectorBucket, CreateIndex,
 * GetIndex, ListIndexes, DeleteIndex, PutVectors, GetVectors, ListVectors, DeleteVectors and QueryVectors, over
 * the REST-JSON protocol the SDK speaks (`POST /<Operation>` with a JSON body, signing name `s3vectors`).
 *
 * Search is exact: every vector of the index is scored (cosine or euclidean), so results equal brute force.
 * Each index is an append-only log under `<dataDir>/s3vectors/<bucket>/<index>.jsonl` (a header line, then
 * puts and deletes), replayed on start and compacted when it holds more dead lines than live vectors, so
 * data survives a restart without rewriting the whole index on every write.
 *
 * Limits are those AWS documents: names of 3–63 lowercase letters, digits, hyphens and dots; dimension
 * 1–4096; topK 1–100; at most 500 vectors per PutVectors or DeleteVectors and 100 keys per GetVectors; keys of
 * 1–1024 characters; metadata at most 40 KB per vector, of which filterable at most 2 KB.
 */

const ACCOUNT = "000000000000";
const NAME = /^[a-z0-9](?:[a-z0-9.-]{1,61})[a-z0-9]$/;
const MAX_DIMENSION = 4096;
const MAX_TOP_K = 100;
const MAX_PUT = 500;
const MAX_DELETE = 500;
const MAX_GET = 100;
const MAX_LIST = 1000;
const MAX_KEY_LENGTH = 1024;
const MAX_METADATA_BYTES = 40 * 1024;
const MAX_FILTERABLE_METADATA_BYTES = 2 * 1024;
const MAX_NON_FILTERABLE_KEYS = 10;

type DistanceMetric = "cosine" | "euclidean";

interface StoredVector {
  data: Float32Array;
  /** Euclidean norm of `data`, kept so a cosine query does one dot product per vector. */
  norm: number;
  metadata?: Record<string, unknown>;
}

interface LocalIndex {
  name: string;
  bucket: string;
  dimension: number;
  distanceMetric: DistanceMetric;
  nonFilterableMetadataKeys: string[];
  /** Epoch seconds. */
  creationTime: number;
  vectors: Map<string, StoredVector>;
  /** Lines in the log beyond the header: compaction runs when these far outnumber the live vectors. */
  logLines: number;
}

interface LocalBucket {
  name: string;
  creationTime: number;
  indexes: Map<string, LocalIndex>;
}

function validation(message: string): AwsServiceError {
  return new AwsServiceError("ValidationException", message, 400);
}

function notFound(message: string): AwsServiceError {
  return new AwsServiceError("NotFoundException", message, 404);
}

function checkName(value: unknown, field: string): string {
  if (typeof value !== "string" || !NAME.test(value) || value.includes("..")) {
    throw validation(
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must be 3-63 characters of lowercase letters, numbers, hyphens and dots, starting and ending with a letter or number`,
    );
  }
  return value;
}

function norm(data: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += (data[i] as number) * (data[i] as number);
  return Math.sqrt(sum);
}

function readVectorData(value: unknown, dimension: number, field: string): Float32Array {
  const floats = (value as { float32?: unknown } | undefined)?.float32;
  if (!Array.isArray(floats)) throw validation(`${field}.float32 is required`);
  if (floats.length !== dimension) {
    throw validation(
      `Invalid vector dimension: ${floats.length}. The index expects vectors of dimension ${dimension}`,
    );
  }
  const data = new Float32Array(dimension);
  for (let i = 0; i < dimension; i++) {
    const n = floats[i];
    if (typeof n !== "number" || !Number.isFinite(n))
      throw validation(`${field}.float32 must contain only finite numbers`);
    data[i] = n;
  }
  return data;
}

function readMetadata(value: unknown, index: LocalIndex): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw validation("metadata must be a JSON object");
  const metadata = value as Record<string, unknown>;
  const total = Buffer.byteLength(JSON.stringify(metadata), "utf8");
  if (total > MAX_METADATA_BYTES)
    throw validation(`Metadata is ${total} bytes; a vector may have at most ${MAX_METADATA_BYTES}`);
  const filterable = Object.fromEntries(
    Object.entries(metadata).filter(([key]) => !index.nonFilterableMetadataKeys.includes(key)),
  );
  const filterableBytes = Buffer.byteLength(JSON.stringify(filterable), "utf8");
  if (filterableBytes > MAX_FILTERABLE_METADATA_BYTES) {
    throw validation(
      `Filterable metadata is ${filterableBytes} bytes; a vector may have at most ${MAX_FILTERABLE_METADATA_BYTES}`,
    );
  }
  for (const [key, item] of Object.entries(metadata)) {
    const ok =
      typeof item === "string" ||
      typeof item === "boolean" ||
      (typeof item === "number" && Number.isFinite(item)) ||
      (Array.isArray(item) && item.every((v) => typeof v === "string"));
    if (!ok)
      throw validation(`Metadata value of ${key} must be a string, number, boolean or list of strings`);
  }
  return metadata;
}

function distance(index: LocalIndex, query: Float32Array, queryNorm: number, stored: StoredVector): number {
  const data = stored.data;
  if (index.distanceMetric === "cosine") {
    let dot = 0;
    for (let i = 0; i < data.length; i++) dot += (data[i] as number) * (query[i] as number);
    const denominator = queryNorm * stored.norm;
    return denominator === 0 ? 1 : 1 - dot / denominator;
  }
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const d = (data[i] as number) - (query[i] as number);
    sum += d * d;
  }
  return Math.sqrt(sum);
}

function json(body: unknown): RawResponse {
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

function pageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString("base64url");
}

function readToken(token: unknown): number {
  if (token === undefined || token === null || token === "") return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(String(token), "base64url").toString("utf8")) as {
      offset?: unknown;
    };
    if (typeof offset === "number" && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // reported below
  }
  throw validation("The nextToken is not valid");
}

export interface LocalS3Vectors {
  service: RestService;
  /** Creates a bucket if it is missing: the stack's bucket exists before any function runs. */
  ensureBucket(name: string): void;
}

export function createS3Vectors(options: {
  region: string;
  dataDir?: string;
  now?: () => number;
}): LocalS3Vectors {
  const now = options.now ?? Date.now;
  const buckets = new Map<string, LocalBucket>();
  const root = options.dataDir === undefined ? undefined : join(options.dataDir, "s3vectors");

  const bucketArn = (name: string) => `arn:aws:s3vectors:${options.region}:${ACCOUNT}:bucket/${name}`;
  const indexArn = (bucket: string, index: string) => `${bucketArn(bucket)}/index/${index}`;
  const indexFile = (index: LocalIndex) =>
    root === undefined ? undefined : join(root, index.bucket, `${index.name}.jsonl`);

  const header = (index: LocalIndex) =>
    JSON.stringify({
      op: "index",
      dimension: index.dimension,
      distanceMetric: index.distanceMetric,
      nonFilterableMetadataKeys: index.nonFilterableMetadataKeys,
      creationTime: index.creationTime,
    });
  const putLine = (key: string, vector: StoredVector) =>
    JSON.stringify({
      op: "put",
      key,
      data: Buffer.from(vector.data.buffer, vector.data.byteOffset, vector.data.byteLength).toString(
        "base64",
      ),
      ...(vector.metadata === undefined ? {} : { metadata: vector.metadata }),
    });

  const compact = (index: LocalIndex) => {
    const file = indexFile(index);
    if (file === undefined) return;
    const lines = [header(index), ...[...index.vectors].map(([key, vector]) => putLine(key, vector))];
    const temporary = `${file}.tmp`;
    writeFileSync(temporary, `${lines.join("\n")}\n`);
    renameSync(temporary, file);
    index.logLines = index.vectors.size;
  };
  const append = (index: LocalIndex, lines: string[]) => {
    const file = indexFile(index);
    if (file === undefined || lines.length === 0) return;
    appendFileSync(file, `${lines.join("\n")}\n`);
    index.logLines += lines.length;
    if (index.logLines > 2 * index.vectors.size + 1000) compact(index);
  };

  const load = () => {
    if (root === undefined) return;
    let bucketNames: string[];
    try {
      bucketNames = readdirSync(root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const bucketName of bucketNames) {
      const bucket: LocalBucket = { name: bucketName, creationTime: now() / 1000, indexes: new Map() };
      buckets.set(bucketName, bucket);
      for (const file of readdirSync(join(root, bucketName))) {
        if (!file.endsWith(".jsonl")) continue;
        const lines = readFileSync(join(root, bucketName, file), "utf8").split("\n");
        let index: LocalIndex | undefined;
        for (const line of lines) {
          if (line.trim() === "") continue;
          let entry: Record<string, unknown>;
          try {
            entry = JSON.parse(line) as Record<string, unknown>;
          } catch {
            // A line cut short by a crash mid-append: everything before it is whole.
            continue;
          }
          if (entry.op === "index") {
            index = {
              name: file.slice(0, -".jsonl".length),
              bucket: bucketName,
              dimension: Number(entry.dimension),
              distanceMetric: entry.distanceMetric as DistanceMetric,
              nonFilterableMetadataKeys: (entry.nonFilterableMetadataKeys as string[]) ?? [],
              creationTime: Number(entry.creationTime),
              vectors: new Map(),
              logLines: 0,
            };
          } else if (index !== undefined && entry.op === "put") {
            const bytes = Buffer.from(String(entry.data), "base64");
            const data = new Float32Array(
              bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
            );
            index.vectors.set(String(entry.key), {
              data,
              norm: norm(data),
              ...(entry.metadata === undefined
                ? {}
                : { metadata: entry.metadata as Record<string, unknown> }),
            });
            index.logLines++;
          } else if (index !== undefined && entry.op === "delete") {
            for (const key of entry.keys as string[]) index.vectors.delete(key);
            index.logLines++;
          }
        }
        if (index !== undefined) bucket.indexes.set(index.name, index);
      }
    }
  };
  load();

  const ensureBucket = (name: string) => {
    if (buckets.has(name)) return;
    buckets.set(name, { name, creationTime: now() / 1000, indexes: new Map() });
    if (root !== undefined) mkdirSync(join(root, name), { recursive: true });
  };

  /** `vectorBucketName` or the bucket part of an ARN. */
  const bucketOf = (input: Record<string, unknown>): LocalBucket => {
    let name = input.vectorBucketName;
    if (name === undefined && typeof input.vectorBucketArn === "string") {
      name = /:bucket\/([^/]+)$/.exec(input.vectorBucketArn)?.[1];
    }
    if (name === undefined && typeof input.indexArn === "string") {
      name = /:bucket\/([^/]+)\/index\//.exec(input.indexArn)?.[1];
    }
    if (name === undefined) throw validation("Either vectorBucketName or vectorBucketArn must be provided");
    const bucket = buckets.get(checkName(name, "vectorBucketName"));
    if (bucket === undefined) throw notFound("The specified vector bucket could not be found");
    return bucket;
  };
  const indexOf = (input: Record<string, unknown>): LocalIndex => {
    const bucket = bucketOf(input);
    let name = input.indexName;
    if (name === undefined && typeof input.indexArn === "string")
      name = /\/index\/([^/]+)$/.exec(input.indexArn)?.[1];
    if (name === undefined) throw validation("Either indexName or indexArn must be provided");
    const index = bucket.indexes.get(checkName(name, "indexName"));
    if (index === undefined) throw notFound("The specified index could not be found");
    return index;
  };
  const indexOutput = (index: LocalIndex) => ({
    vectorBucketName: index.bucket,
    indexName: index.name,
    indexArn: indexArn(index.bucket, index.name),
    creationTime: index.creationTime,
    dataType: "float32",
    dimension: index.dimension,
    distanceMetric: index.distanceMetric,
    ...(index.nonFilterableMetadataKeys.length === 0
      ? {}
      : { metadataConfiguration: { nonFilterableMetadataKeys: index.nonFilterableMetadataKeys } }),
  });
  const keysOf = (value: unknown, max: number): string[] => {
    if (!Array.isArray(value) || value.length === 0) throw validation("keys must be a non-empty list");
    if (value.length > max) throw validation(`At most ${max} keys may be given, got ${value.length}`);
    for (const key of value) {
      if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH)
        throw validation(`Each key must be 1 to ${MAX_KEY_LENGTH} characters`);
    }
    return value as string[];
  };
  const vectorOutput = (
    key: string,
    vector: StoredVector,
    returnData: boolean,
    returnMetadata: boolean,
  ): Record<string, unknown> => ({
    key,
    ...(returnData ? { data: { float32: [...vector.data] } } : {}),
    ...(returnMetadata && vector.metadata !== undefined ? { metadata: vector.metadata } : {}),
  });

  const operations: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateVectorBucket(input) {
      const name = checkName(input.vectorBucketName, "vectorBucketName");
      if (buckets.has(name))
        throw new AwsServiceError("ConflictException", "A vector bucket with this name already exists", 409);
      ensureBucket(name);
      return { vectorBucketArn: bucketArn(name) };
    },
    GetVectorBucket(input) {
      const bucket = bucketOf(input);
      return {
        vectorBucket: {
          vectorBucketName: bucket.name,
          vectorBucketArn: bucketArn(bucket.name),
          creationTime: bucket.creationTime,
        },
      };
    },
    CreateIndex(input) {
      const bucket = bucketOf(input);
      const name = checkName(input.indexName, "indexName");
      if (input.dataType !== "float32") throw validation("dataType must be float32");
      const dimension = input.dimension;
      if (
        typeof dimension !== "number" ||
        !Number.isInteger(dimension) ||
        dimension < 1 ||
        dimension > MAX_DIMENSION
      )
        throw validation(`dimension must be an integer between 1 and ${MAX_DIMENSION}`);
      if (input.distanceMetric !== "cosine" && input.distanceMetric !== "euclidean")
        throw validation("distanceMetric must be cosine or euclidean");
      const nonFilterable =
        (input.metadataConfiguration as { nonFilterableMetadataKeys?: unknown } | undefined)
          ?.nonFilterableMetadataKeys ?? [];
      if (
        !Array.isArray(nonFilterable) ||
        nonFilterable.length > MAX_NON_FILTERABLE_KEYS ||
        !nonFilterable.every((key) => typeof key === "string" && key.length > 0 && key.length <= 63)
      ) {
        throw validation(
          `nonFilterableMetadataKeys must be at most ${MAX_NON_FILTERABLE_KEYS} keys of 1-63 characters`,
        );
      }
      if (bucket.indexes.has(name))
        throw new AwsServiceError("ConflictException", "An index with this name already exists", 409);
      const index: LocalIndex = {
        name,
        bucket: bucket.name,
        dimension,
        distanceMetric: input.distanceMetric,
        nonFilterableMetadataKeys: nonFilterable as string[],
        creationTime: Math.floor(now() / 1000),
        vectors: new Map(),
        logLines: 0,
      };
      bucket.indexes.set(name, index);
      const file = indexFile(index);
      if (file !== undefined) {
        mkdirSync(join(root as string, bucket.name), { recursive: true });
        writeFileSync(file, `${header(index)}\n`);
      }
      return { indexArn: indexArn(bucket.name, name) };
    },
    GetIndex(input) {
      return { index: indexOutput(indexOf(input)) };
    },
    ListIndexes(input) {
      const bucket = bucketOf(input);
      const max = input.maxResults === undefined ? 500 : Number(input.maxResults);
      if (!Number.isInteger(max) || max < 1 || max > 500)
        throw validation("maxResults must be between 1 and 500");
      const prefix = typeof input.prefix === "string" ? input.prefix : "";
      const all = [...bucket.indexes.values()]
        .filter((index) => index.name.startsWith(prefix))
        .sort((a, b) => a.name.localeCompare(b.name));
      const offset = readToken(input.nextToken);
      const page = all.slice(offset, offset + max);
      return {
        indexes: page.map((index) => ({
          vectorBucketName: index.bucket,
          indexName: index.name,
          indexArn: indexArn(index.bucket, index.name),
          creationTime: index.creationTime,
        })),
        ...(offset + max < all.length ? { nextToken: pageToken(offset + max) } : {}),
      };
    },
    DeleteIndex(input) {
      const index = indexOf(input);
      buckets.get(index.bucket)?.indexes.delete(index.name);
      const file = indexFile(index);
      if (file !== undefined) rmSync(file, { force: true });
      return {};
    },
    PutVectors(input) {
      const index = indexOf(input);
      const vectors = input.vectors;
      if (!Array.isArray(vectors) || vectors.length === 0)
        throw validation("vectors must be a non-empty list");
      if (vectors.length > MAX_PUT) throw validation(`At most ${MAX_PUT} vectors may be put at once`);
      // Every vector is checked before any is written: a bad batch changes nothing.
      const checked = vectors.map((raw, i) => {
        const vector = raw as { key?: unknown; data?: unknown; metadata?: unknown };
        if (typeof vector.key !== "string" || vector.key.length === 0 || vector.key.length > MAX_KEY_LENGTH)
          throw validation(`vectors.${i}.key must be 1 to ${MAX_KEY_LENGTH} characters`);
        const data = readVectorData(vector.data, index.dimension, `vectors.${i}.data`);
        const metadata = readMetadata(vector.metadata, index);
        const stored: StoredVector = {
          data,
          norm: norm(data),
          ...(metadata === undefined ? {} : { metadata }),
        };
        if (index.distanceMetric === "cosine" && stored.norm === 0)
          throw validation(`vectors.${i}.data must not be a zero vector for the cosine distance metric`);
        return [vector.key, stored] as const;
      });
      for (const [key, stored] of checked) index.vectors.set(key, stored);
      append(
        index,
        checked.map(([key, stored]) => putLine(key, stored)),
      );
      return {};
    },
    GetVectors(input) {
      const index = indexOf(input);
      const keys = keysOf(input.keys, MAX_GET);
      const vectors = [];
      for (const key of keys) {
        const vector = index.vectors.get(key);
        if (vector !== undefined)
          vectors.push(vectorOutput(key, vector, input.returnData === true, input.returnMetadata === true));
      }
      return { vectors };
    },
    ListVectors(input) {
      const index = indexOf(input);
      const max = input.maxResults === undefined ? 500 : Number(input.maxResults);
      if (!Number.isInteger(max) || max < 1 || max > MAX_LIST)
        throw validation(`maxResults must be between 1 and ${MAX_LIST}`);
      if (input.segmentCount !== undefined || input.segmentIndex !== undefined) {
        const count = Number(input.segmentCount);
        const segment = Number(input.segmentIndex);
        if (
          !Number.isInteger(count) ||
          count < 1 ||
          count > 16 ||
          !Number.isInteger(segment) ||
          segment < 0 ||
          segment >= count
        )
          throw validation("segmentCount must be 1-16 and segmentIndex below it, given together");
      }
      const keys = [...index.vectors.keys()].sort();
      const count = input.segmentCount === undefined ? 1 : Number(input.segmentCount);
      const segment = input.segmentIndex === undefined ? 0 : Number(input.segmentIndex);
      const mine = keys.filter((_key, i) => i % count === segment);
      const offset = readToken(input.nextToken);
      const page = mine.slice(offset, offset + max);
      return {
        vectors: page.map((key) =>
          vectorOutput(
            key,
            index.vectors.get(key) as StoredVector,
            input.returnData === true,
            input.returnMetadata === true,
          ),
        ),
        ...(offset + max < mine.length ? { nextToken: pageToken(offset + max) } : {}),
      };
    },
    DeleteVectors(input) {
      const index = indexOf(input);
      const keys = keysOf(input.keys, MAX_DELETE);
      for (const key of keys) index.vectors.delete(key);
      append(index, [JSON.stringify({ op: "delete", keys })]);
      return {};
    },
    QueryVectors(input) {
      const index = indexOf(input);
      const topK = input.topK;
      if (typeof topK !== "number" || !Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K)
        throw validation(`topK must be an integer between 1 and ${MAX_TOP_K}`);
      const query = readVectorData(input.queryVector, index.dimension, "queryVector");
      const queryNorm = norm(query);
      if (index.distanceMetric === "cosine" && queryNorm === 0)
        throw validation("queryVector must not be a zero vector for the cosine distance metric");
      if (input.filter !== undefined) validateFilter(input.filter);
      // A bounded best-first list: topK is at most 100, so insertion into a sorted array is cheap.
      const best: { key: string; distance: number; vector: StoredVector }[] = [];
      for (const [key, vector] of index.vectors) {
        if (
          input.filter !== undefined &&
          !matchesFilter(input.filter, vector.metadata ?? {}, index.nonFilterableMetadataKeys)
        )
          continue;
        const d = distance(index, query, queryNorm, vector);
        if (best.length === topK && d >= (best[best.length - 1] as { distance: number }).distance) continue;
        let at = best.length;
        while (at > 0 && (best[at - 1] as { distance: number }).distance > d) at--;
        best.splice(at, 0, { key, distance: d, vector });
        if (best.length > topK) best.pop();
      }
      return {
        vectors: best.map(({ key, distance: d, vector }) => ({
          key,
          ...(input.returnDistance === true ? { distance: d } : {}),
          ...(input.returnMetadata === true && vector.metadata !== undefined
            ? { metadata: vector.metadata }
            : {}),
        })),
        distanceMetric: index.distanceMetric,
      };
    },
  };

  async function handle(request: RawRequest): Promise<RawResponse> {
    const path = new URL(request.url, "http://localhost").pathname;
    const operation = operations[path.slice(1)];
    if (request.method !== "POST" || operation === undefined) {
      throw new AwsServiceError(
        "UnknownOperationException",
        `The twin's S3 Vectors does not serve ${request.method} ${path}`,
        404,
      );
    }
    let input: unknown;
    try {
      input = request.body.length === 0 ? {} : JSON.parse(request.body.toString("utf8"));
    } catch {
      throw new AwsServiceError("SerializationException", "Request body is not valid JSON");
    }
    if (typeof input !== "object" || input === null || Array.isArray(input))
      throw new AwsServiceError("SerializationException", "Request body must be a JSON object");
    return json(operation(input as Record<string, unknown>) ?? {});
  }

  return { service: { name: "S3 Vectors", signingName: "s3vectors", handle }, ensureBucket };
}
