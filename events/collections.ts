import { z } from "zod";

/**
 * Collections (vector memory) and sessions: the REST bodies of `/v1/collections` and `/v1/sessions`.
 */

export const collectionName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, "names start with a letter and use letters, digits, _, . and -");

export const EmbeddingProviderName = z.enum(["bedrock", "openai", "local"]);
export type EmbeddingProviderName = z.infer<typeof EmbeddingProviderName>;

export const EmbeddingConfig = z
  .object({
    provider: EmbeddingProviderName,
    /** Bedrock model id or OpenAI-compatible model name; `local` has one model and ignores it. */
    model: z.string().min(1).max(200).optional(),
    /** Name of a stored credential in `/v1/secrets`. */
    secret: z.string().min(1).max(64).optional(),
    /** An OpenAI-compatible server (Ollama, vLLM) or a Bedrock endpoint. */
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .optional(),
    /** Vector size: asked of models that can shorten theirs (Titan v2, text-embedding-3); found by a probe otherwise. */
    dimensions: z.number().int().min(1).max(4096).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.provider === "local" && (config.secret !== undefined || config.baseUrl !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["provider"],
        message: "the local embedder takes no secret or baseUrl",
      });
    }
    if (config.provider === "local" && config.dimensions !== undefined) {
      ctx.addIssue({ code: "custom", path: ["dimensions"], message: "the local embedder has a fixed size" });
    }
  });
export type EmbeddingConfig = z.infer<typeof EmbeddingConfig>;

export const CreateCollectionRequest = z
  .object({
    name: collectionName,
    description: z.string().max(500).optional(),
    embedding: EmbeddingConfig.default({ provider: "local" }),
  })
  .strict();
export type CreateCollectionRequest = z.infer<typeof CreateCollectionRequest>;

export const Collection = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().optional(),
  embedding: z.object({
    provider: EmbeddingProviderName,
    model: z.string(),
    secret: z.string().optional(),
    baseUrl: z.string().optional(),
    dimensions: z.number().int().optional(),
  }),
  dimension: z.number().int(),
  documents: z.number().int(),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type Collection = z.infer<typeof Collection>;

/** Scalar metadata (and lists of strings), as S3 Vectors stores and filters it. Keys starting `_` are reserved. */
export const DocumentMetadata = z
  .record(
    z
      .string()
      .min(1)
      .max(63)
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "metadata keys start with a letter or digit"),
    z.union([z.string().max(1000), z.number(), z.boolean(), z.array(z.string().max(200)).max(20)]),
  )
  .refine((value) => Object.keys(value).length <= 20, { message: "at most 20 metadata keys" });

export const MAX_DOCUMENT_CHARS = 200_000;
export const MAX_DOCUMENTS_PER_CALL = 100;

export const CollectionDocument = z
  .object({
    id: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^#\s][^#]*$/, "document ids may not contain # or start with a space"),
    text: z.string().min(1).max(MAX_DOCUMENT_CHARS),
    metadata: DocumentMetadata.optional(),
  })
  .strict();
export type CollectionDocument = z.infer<typeof CollectionDocument>;

export const UpsertDocumentsRequest = z
  .object({ documents: z.array(CollectionDocument).min(1).max(MAX_DOCUMENTS_PER_CALL) })
  .strict()
  .superRefine((body, ctx) => {
    const seen = new Set<string>();
    body.documents.forEach((document, index) => {
      if (seen.has(document.id))
        ctx.addIssue({ code: "custom", path: ["documents", index, "id"], message: "appears twice" });
      seen.add(document.id);
    });
  });
export type UpsertDocumentsRequest = z.infer<typeof UpsertDocumentsRequest>;

export const UpsertDocumentsResponse = z.object({
  documents: z.array(z.object({ id: z.string(), chunks: z.number().int() })),
  usage: z.object({ inputTokens: z.number().int() }),
});

export const MAX_TOP_K = 100;

/** S3 Vectors filter syntax: `{field: value}`, `$eq $ne $gt $gte $lt $lte $in $nin $exists`, `$and`, `$or`. */
export const VectorFilter = z.record(z.string(), z.unknown());

export const QueryCollectionRequest = z
  .object({
    text: z.string().min(1).max(8_000),
    topK: z.number().int().min(1).max(MAX_TOP_K).default(5),
    filter: VectorFilter.optional(),
  })
  .strict();
export type QueryCollectionRequest = z.infer<typeof QueryCollectionRequest>;

export const CollectionMatch = z.object({
  /** The document's id. */
  id: z.string(),
  /** Which chunk of the document matched (0-based). */
  chunk: z.number().int(),
  /** Cosine similarity, 1 is identical. */
  score: z.number(),
  text: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});
export type CollectionMatch = z.infer<typeof CollectionMatch>;

export const QueryCollectionResponse = z.object({ matches: z.array(CollectionMatch) });

export const CreateSessionRequest = z
  .object({
    /** The agent's name or id. */
    agent: z.string().min(1).max(128),
    metadata: z.record(z.string().max(64), z.string().max(1000)).optional(),
  })
  .strict();
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

export const SessionMessage = z.object({
  role: z.enum(["user", "assistant", "tool"]),
  content: z.string(),
  /** On assistant turns that asked for tools. */
  toolCalls: z
    .array(z.object({ id: z.string(), name: z.string(), arguments: z.record(z.string(), z.unknown()) }))
    .optional(),
  /** On tool results. */
  toolCallId: z.string().optional(),
  name: z.string().optional(),
  isError: z.boolean().optional(),
  /** The step that added it. */
  jobId: z.string(),
  nodeId: z.string(),
  at: z.string(),
});
export type SessionMessage = z.infer<typeof SessionMessage>;

export const Session = z.object({
  id: z.string(),
  agent: z.string(),
  agentId: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
  turns: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
});
export type Session = z.infer<typeof Session>;

export const SessionWithMessages = Session.extend({ messages: z.array(SessionMessage) });
export type SessionWithMessages = z.infer<typeof SessionWithMessages>;
