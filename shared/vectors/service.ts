import type {
  CollectionDocument,
  CollectionMatch,
  CreateCollectionRequest,
  EmbeddingConfig,
} from "#events/collections";
import { AppError, notFound, validationFailed } from "../errors.ts";
import { newId } from "../ids.ts";
import { logger } from "../observability.ts";
import { ProviderError } from "../providers/types.ts";
import {
  countDocuments,
  documentChunks,
  getCollection,
  putCollection,
  putDocument,
  removeAllDocuments,
  removeCollection,
  removeDocument,
  type StoredCollection,
} from "../stores/collections.ts";
import { readSecret } from "../stores/secrets.ts";
import { recordUsage } from "../stores/usage.ts";
import { chunkText } from "./chunking.ts";
import {
  createEmbedder,
  DEFAULT_EMBEDDING_MODELS,
  type Embedder,
  embeddingCost,
  TITAN_V2_DIMENSIONS,
} from "./embedders.ts";
import { HASHING_DIMENSION } from "./hashing-embedder.ts";
import {
  createVectorIndex,
  deleteVectorIndex,
  deleteVectors,
  indexNameFor,
  META,
  putVectors,
  queryVectors,
} from "./vector-index.ts";

/**
 * Collections end to end: a collection is an S3 Vectors index plus its record in the table. Documents are
 * chunked (chunking.ts), embedded with the collection's embedder, and stored as vectors `<doc>#<n>` whose
 * metadata holds the tenant's fields, the document id and the chunk's text. Usage of the embedder is added
 * to the tenant's usage like model tokens.
 */

/** Who asked: a REST call, or a step (whose job the usage is counted under). */
export interface VectorCaller {
  tenantId: string;
  jobId?: string;
  signal?: AbortSignal;
}

/** Embedding usage outside any job is counted under this job id in `/v1/usage?groupBy=job`. */
export const API_USAGE_JOB = "api";

async function embedderFor(
  tenantId: string,
  collection: Pick<StoredCollection, "embedding" | "dimension">,
): Promise<Embedder> {
  const config = collection.embedding;
  let secret: string | undefined;
  if (config.secret !== undefined) {
    secret = await readSecret(tenantId, config.secret);
    if (secret === undefined)
      throw validationFailed(`The collection's embedding secret ${config.secret} does not exist`);
  }
  return createEmbedder({
    provider: config.provider,
    model: config.model,
    baseUrl: config.baseUrl,
    secret,
    // Titan is always told its size; an OpenAI-compatible model only when the collection asked for one,
    // since servers such as Ollama refuse the parameter.
    dimensions: config.provider === "bedrock" ? collection.dimension : config.dimensions,
  });
}

async function embed(
  caller: VectorCaller,
  embedder: Embedder,
  texts: string[],
): Promise<{ vectors: number[][]; inputTokens: number }> {
  const result = await embedder.embed(texts, caller.signal);
  const costUsd = embeddingCost(embedder.provider, embedder.model, result.inputTokens);
  await recordUsage({
    tenantId: caller.tenantId,
    jobId: caller.jobId ?? API_USAGE_JOB,
    provider: embedder.provider,
    model: embedder.model,
    inputTokens: result.inputTokens,
    outputTokens: 0,
    costUsd,
    steps: 0,
  }).catch((error: Error) => {
    logger.error("Could not record embedding usage", { error: error.name, inputTokens: result.inputTokens });
  });
  return result;
}

/** The embedding provider failed: 502 for its errors, 400 for an endpoint the egress guard refuses. */
export function embeddingFailure(error: ProviderError): AppError {
  return error.code === "EGRESS_DENIED"
    ? new AppError(400, "EGRESS_DENIED", error.message)
    : new AppError(502, "EMBEDDING_FAILED", error.message, { retryable: error.retryable });
}

/** S3 Vectors refused the request (a filter it cannot read, metadata over its limits): the caller's input. */
async function indexCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    // By name: the SDK's classes load only with the first vector call.
    if (error instanceof Error && error.name === "ValidationException") throw validationFailed(error.message);
    throw error;
  }
}

async function requireCollection(tenantId: string, name: string): Promise<StoredCollection> {
  const collection = await getCollection(tenantId, name);
  if (collection === undefined) throw notFound("Collection", name);
  return collection;
}

async function dimensionOf(caller: VectorCaller, config: EmbeddingConfig): Promise<number> {
  if (config.provider === "local") return HASHING_DIMENSION;
  const model = config.model ?? DEFAULT_EMBEDDING_MODELS[config.provider];
  if (config.provider === "bedrock" && model.startsWith("amazon.titan-embed-text-v2")) {
    const size = config.dimensions ?? 1024;
    if (!(TITAN_V2_DIMENSIONS as readonly number[]).includes(size))
      throw validationFailed(
        `Titan Text Embeddings v2 makes vectors of ${TITAN_V2_DIMENSIONS.join(", ")} dimensions`,
      );
    return size;
  }
  if (config.dimensions !== undefined) return config.dimensions;
  // Models differ in size and most do not say: one embedding of a short text tells, and checks the credential.
  const { dimensions: _none, ...rest } = config;
  const probe = await embed(
    caller,
    await embedderFor(caller.tenantId, { embedding: { ...rest, model }, dimension: 0 }),
    ["dimension probe"],
  );
  const size = probe.vectors[0]?.length ?? 0;
  if (size < 1 || size > 4096)
    throw new AppError(
      502,
      "EMBEDDING_FAILED",
      `The model returned vectors of ${size} dimensions; S3 Vectors takes 1 to 4096`,
    );
  return size;
}

export async function createCollection(
  caller: VectorCaller,
  body: CreateCollectionRequest,
  createdBy: string,
): Promise<StoredCollection> {
  if ((await getCollection(caller.tenantId, body.name)) !== undefined)
    throw new AppError(409, "CONFLICT", `A collection named ${body.name} already exists`);
  const config = body.embedding;
  if (config.secret !== undefined && (await readSecret(caller.tenantId, config.secret)) === undefined)
    throw validationFailed(`Secret ${config.secret} does not exist`, [
      { path: "embedding.secret", message: "no such secret", code: "custom" },
    ]);
  let dimension: number;
  try {
    dimension = await dimensionOf(caller, config);
  } catch (error) {
    if (error instanceof ProviderError) throw embeddingFailure(error);
    throw error;
  }
  const id = newId("col_");
  const collection: StoredCollection = {
    id,
    name: body.name,
    ...(body.description === undefined ? {} : { description: body.description }),
    embedding: {
      provider: config.provider,
      model: config.model ?? DEFAULT_EMBEDDING_MODELS[config.provider],
      ...(config.secret === undefined ? {} : { secret: config.secret }),
      ...(config.baseUrl === undefined ? {} : { baseUrl: config.baseUrl }),
      ...(config.dimensions === undefined || config.provider !== "openai"
        ? {}
        : { dimensions: config.dimensions }),
    },
    dimension,
    documents: 0,
    createdAt: new Date().toISOString(),
    createdBy,
    indexName: indexNameFor(caller.tenantId, id),
  };
  await createVectorIndex(collection.indexName, dimension);
  try {
    await putCollection(caller.tenantId, collection);
  } catch (error) {
    // Lost a race for the name: the index made for it has no collection, so it goes again.
    await deleteVectorIndex(collection.indexName);
    throw error;
  }
  return collection;
}

export async function deleteCollection(tenantId: string, name: string): Promise<StoredCollection> {
  const removed = await removeCollection(tenantId, name);
  if (removed === undefined) throw notFound("Collection", name);
  // The record is gone first, so nothing can reach the index while it is deleted; its name is never reused.
  await deleteVectorIndex(removed.indexName);
  await removeAllDocuments(tenantId, removed.id);
  return removed;
}

export { getCollection, listCollections, publicCollection } from "../stores/collections.ts";

export async function upsertDocuments(
  caller: VectorCaller,
  name: string,
  documents: CollectionDocument[],
): Promise<{ documents: { id: string; chunks: number }[]; usage: { inputTokens: number } }> {
  const collection = await requireCollection(caller.tenantId, name);
  const chunked = documents.map((document) => ({ document, chunks: chunkText(document.text) }));
  const texts = chunked.flatMap((entry) => entry.chunks);
  let embedded: { vectors: number[][]; inputTokens: number };
  try {
    embedded = await embed(caller, await embedderFor(caller.tenantId, collection), texts);
  } catch (error) {
    if (error instanceof ProviderError) throw embeddingFailure(error);
    throw error;
  }
  for (const vector of embedded.vectors) {
    if (vector.length !== collection.dimension)
      throw new AppError(
        502,
        "EMBEDDING_FAILED",
        `The embedder returned ${vector.length} dimensions; the collection has ${collection.dimension}`,
      );
  }
  let at = 0;
  const items = chunked.flatMap(({ document, chunks }) =>
    chunks.map((text, chunk) => ({
      key: `${document.id}#${chunk}`,
      data: embedded.vectors[at++] as number[],
      metadata: {
        ...document.metadata,
        [META.document]: document.id,
        [META.chunk]: chunk,
        [META.text]: text,
      },
    })),
  );
  const before = await documentChunks(
    caller.tenantId,
    collection.id,
    documents.map((d) => d.id),
  );
  await indexCall(() => putVectors(collection.indexName, items));
  // A shorter text leaves chunks past its new end: they go, so a document's old text never matches.
  const stale = chunked.flatMap(({ document, chunks }) => {
    const old = before.get(document.id) ?? 0;
    return Array.from(
      { length: Math.max(0, old - chunks.length) },
      (_, i) => `${document.id}#${chunks.length + i}`,
    );
  });
  if (stale.length > 0) await deleteVectors(collection.indexName, stale);
  let added = 0;
  for (const { document, chunks } of chunked) {
    if (await putDocument(caller.tenantId, collection.id, document.id, chunks.length)) added++;
  }
  await countDocuments(caller.tenantId, collection.name, added);
  return {
    documents: chunked.map(({ document, chunks }) => ({ id: document.id, chunks: chunks.length })),
    usage: { inputTokens: embedded.inputTokens },
  };
}

export async function queryCollection(
  caller: VectorCaller,
  name: string,
  query: { text: string; topK: number; filter?: Record<string, unknown> | undefined },
): Promise<{ matches: CollectionMatch[] }> {
  const collection = await requireCollection(caller.tenantId, name);
  let vector: number[];
  try {
    const embedded = await embed(caller, await embedderFor(caller.tenantId, collection), [query.text]);
    vector = embedded.vectors[0] as number[];
  } catch (error) {
    if (error instanceof ProviderError) throw embeddingFailure(error);
    throw error;
  }
  const found = await indexCall(() => queryVectors(collection.indexName, vector, query.topK, query.filter));
  return {
    matches: found.map((match) => {
      const {
        [META.document]: document,
        [META.chunk]: chunk,
        [META.text]: text,
        ...metadata
      } = match.metadata;
      return {
        id: String(document ?? match.key.slice(0, match.key.lastIndexOf("#"))),
        chunk: Number(chunk ?? 0),
        score: Math.round((1 - match.distance) * 1e6) / 1e6,
        text: String(text ?? ""),
        metadata,
      };
    }),
  };
}

export async function deleteDocument(tenantId: string, name: string, documentId: string): Promise<void> {
  const collection = await requireCollection(tenantId, name);
  const chunks = (await documentChunks(tenantId, collection.id, [documentId])).get(documentId);
  if (chunks === undefined) throw notFound("Document", documentId);
  // Vectors first: a failure here leaves the record, so deleting again finishes the job.
  await deleteVectors(
    collection.indexName,
    Array.from({ length: chunks }, (_, i) => `${documentId}#${i}`),
  );
  if ((await removeDocument(tenantId, collection.id, documentId)) !== undefined)
    await countDocuments(tenantId, collection.name, -1);
}
