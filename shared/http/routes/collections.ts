import { PageQuery, page } from "#events/auth";
import {
  Collection,
  CreateCollectionRequest,
  collectionName,
  QueryCollectionRequest,
  QueryCollectionResponse,
  UpsertDocumentsRequest,
  UpsertDocumentsResponse,
} from "#events/collections";
import { notFound, validationFailed } from "../../errors.ts";
import { getCollection } from "../../stores/collections.ts";
import {
  createCollection,
  deleteCollection,
  deleteDocument,
  listCollections,
  publicCollection,
  queryCollection,
  upsertDocuments,
} from "../../vectors/service.ts";
import { defineRoute, type RouteTable } from "../api.ts";

/** The name in the path becomes a key part, so it is held to the same rule as names in bodies. */
function nameOf(params: Record<string, string>): string {
  const result = collectionName.safeParse(params.name ?? "");
  if (!result.success)
    throw validationFailed("Invalid collection name", [
      { path: "name", message: result.error.issues[0]?.message ?? "invalid", code: "invalid_format" },
    ]);
  return result.data;
}

export const collectionRoutes: RouteTable = {
  createCollection: defineRoute({
    summary: "Create a vector collection with its embedding provider (bedrock, openai or the built-in local)",
    body: CreateCollectionRequest,
    response: Collection,
    status: 201,
    audit: (_request, result) => ({ resource: `/v1/collections/${(result as Collection).name}` }),
    handle: async ({ body, principal }) =>
      publicCollection(await createCollection({ tenantId: principal.tenantId }, body, principal.principalId)),
  }),
  listCollections: defineRoute({
    summary: "The tenant's collections",
    query: PageQuery,
    response: page(Collection),
    handle: async ({ query, principal }) => {
      const result = await listCollections(principal.tenantId, query);
      return { ...result, items: result.items.map(publicCollection) };
    },
  }),
  getCollection: defineRoute({
    summary: "A collection, by name",
    response: Collection,
    handle: async ({ params, principal }) => {
      const name = nameOf(params);
      const collection = await getCollection(principal.tenantId, name);
      if (collection === undefined) throw notFound("Collection", name);
      return publicCollection(collection);
    },
  }),
  deleteCollection: defineRoute({
    summary: "Delete a collection, its index and every document in it",
    handle: async ({ params, principal }) => {
      await deleteCollection(principal.tenantId, nameOf(params));
      return { status: 204 };
    },
  }),
  upsertDocuments: defineRoute({
    summary: "Chunk, embed and upsert documents; a document's old chunks are replaced",
    body: UpsertDocumentsRequest,
    response: UpsertDocumentsResponse,
    handle: ({ params, body, principal }) =>
      upsertDocuments({ tenantId: principal.tenantId }, nameOf(params), body.documents),
  }),
  queryCollection: defineRoute({
    summary:
      "The chunks nearest to a text, best first, optionally filtered on metadata (S3 Vectors filter syntax)",
    body: QueryCollectionRequest,
    response: QueryCollectionResponse,
    audit: false,
    handle: ({ params, body, principal }) =>
      queryCollection({ tenantId: principal.tenantId }, nameOf(params), body),
  }),
  deleteDocument: defineRoute({
    summary: "Delete a document and its chunks",
    handle: async ({ params, principal }) => {
      await deleteDocument(principal.tenantId, nameOf(params), params.documentId ?? "");
      return { status: 204 };
    },
  }),
};
