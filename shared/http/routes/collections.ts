import { type Collection, collectionName } from "#events/collections";
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
import { implementRoutes } from "../api.ts";

/** The name in the path becomes a key part, so it is held to the same rule as names in bodies. */
function nameOf(params: Record<string, string>): string {
  const result = collectionName.safeParse(params.name ?? "");
  if (!result.success)
    throw validationFailed("Invalid collection name", [
      { path: "name", message: result.error.issues[0]?.message ?? "invalid", code: "invalid_format" },
    ]);
  return result.data;
}

export const collectionRoutes = implementRoutes({
  createCollection: {
    audit: (_request, result) => ({ resource: `/v1/collections/${(result as Collection).name}` }),
    handle: async ({ body, principal }) =>
      publicCollection(await createCollection({ tenantId: principal.tenantId }, body, principal.principalId)),
  },
  listCollections: {
    handle: async ({ query, principal }) => {
      const result = await listCollections(principal.tenantId, query);
      return { ...result, items: result.items.map(publicCollection) };
    },
  },
  getCollection: {
    handle: async ({ params, principal }) => {
      const name = nameOf(params);
      const collection = await getCollection(principal.tenantId, name);
      if (collection === undefined) throw notFound("Collection", name);
      return publicCollection(collection);
    },
  },
  deleteCollection: {
    handle: async ({ params, principal }) => {
      await deleteCollection(principal.tenantId, nameOf(params));
      return { status: 204 };
    },
  },
  upsertDocuments: {
    handle: ({ params, body, principal }) =>
      upsertDocuments({ tenantId: principal.tenantId }, nameOf(params), body.documents),
  },
  queryCollection: {
    audit: false,
    handle: ({ params, body, principal }) =>
      queryCollection({ tenantId: principal.tenantId }, nameOf(params), body),
  },
  deleteDocument: {
    handle: async ({ params, principal }) => {
      await deleteDocument(principal.tenantId, nameOf(params), params.documentId ?? "");
      return { status: 204 };
    },
  },
});
