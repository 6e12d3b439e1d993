import { createHash } from "node:crypto";
import type { S3VectorsClient } from "@aws-sdk/client-s3vectors";
import { ENV, requireEnv } from "../config.ts";

/**
 * The stage's S3 Vectors bucket, one index per collection. The client has default configuration: the
 * endpoint comes from `AWS_ENDPOINT_URL_S3VECTORS` locally, as for every other service. The SDK is loaded on
 * first use, so functions that never touch a collection do not pay for it at cold start.
 */

/** S3 Vectors' own limits per call. */
export const PUT_BATCH = 500;
export const DELETE_BATCH = 500;
/** Metadata fields the platform keeps beside the tenant's: the chunk text is stored but never filtered on. */
export const META = { document: "_doc", chunk: "_chunk", text: "_text" } as const;

type Sdk = typeof import("@aws-sdk/client-s3vectors");
let loaded: Promise<{ sdk: Sdk; client: S3VectorsClient }> | undefined;
function sdk(): Promise<{ sdk: Sdk; client: S3VectorsClient }> {
  loaded ??= import("@aws-sdk/client-s3vectors").then((module) => ({
    sdk: module,
    client: new module.S3VectorsClient({}),
  }));
  return loaded;
}

let bucket: string | undefined;
const bucketName = () => {
  bucket ??= requireEnv(ENV.vectorBucket);
  return bucket;
};

/**
 * Index names are 3–63 lowercase letters, digits, hyphens and dots: a hash of the tenant (so one tenant's
 * indexes are recognisable together without putting its id in a name) and the collection's id.
 */
export function indexNameFor(tenantId: string, collectionId: string): string {
  const tenant = createHash("sha256").update(tenantId).digest("hex").slice(0, 16);
  return `t${tenant}-${collectionId.replace(/[^a-z0-9]/g, "")}`;
}

export async function createVectorIndex(indexName: string, dimension: number): Promise<void> {
  const { sdk: s3v, client } = await sdk();
  await client.send(
    new s3v.CreateIndexCommand({
      vectorBucketName: bucketName(),
      indexName,
      dataType: "float32",
      dimension,
      distanceMetric: "cosine",
      metadataConfiguration: { nonFilterableMetadataKeys: [META.text] },
    }),
  );
}

/** True when there was an index to delete. */
export async function deleteVectorIndex(indexName: string): Promise<boolean> {
  const { sdk: s3v, client } = await sdk();
  try {
    await client.send(new s3v.DeleteIndexCommand({ vectorBucketName: bucketName(), indexName }));
    return true;
  } catch (error) {
    if (error instanceof s3v.NotFoundException) return false;
    throw error;
  }
}

export interface IndexVector {
  key: string;
  data: number[];
  metadata: Record<string, unknown>;
}

export async function putVectors(indexName: string, items: IndexVector[]): Promise<void> {
  const { sdk: s3v, client } = await sdk();
  for (let i = 0; i < items.length; i += PUT_BATCH) {
    await client.send(
      new s3v.PutVectorsCommand({
        vectorBucketName: bucketName(),
        indexName,
        vectors: items.slice(i, i + PUT_BATCH).map((item) => ({
          key: item.key,
          data: { float32: item.data },
          metadata: item.metadata as never,
        })),
      }),
    );
  }
}

export async function deleteVectors(indexName: string, keys: string[]): Promise<void> {
  const { sdk: s3v, client } = await sdk();
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    await client.send(
      new s3v.DeleteVectorsCommand({
        vectorBucketName: bucketName(),
        indexName,
        keys: keys.slice(i, i + DELETE_BATCH),
      }),
    );
  }
}

export interface IndexMatch {
  key: string;
  distance: number;
  metadata: Record<string, unknown>;
}

export async function queryVectors(
  indexName: string,
  query: number[],
  topK: number,
  filter?: Record<string, unknown>,
): Promise<IndexMatch[]> {
  const { sdk: s3v, client } = await sdk();
  const output = await client.send(
    new s3v.QueryVectorsCommand({
      vectorBucketName: bucketName(),
      indexName,
      topK,
      queryVector: { float32: query },
      ...(filter === undefined ? {} : { filter: filter as never }),
      returnDistance: true,
      returnMetadata: true,
    }),
  );
  return (output.vectors ?? []).map((vector) => ({
    key: vector.key ?? "",
    distance: vector.distance ?? 1,
    metadata: (vector.metadata ?? {}) as Record<string, unknown>,
  }));
}
