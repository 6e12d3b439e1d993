import { memoryName } from "#events/agents";
import { notFound, validationFailed } from "../../errors.ts";
import { deleteMemory, getMemory, listMemoryKeys, putMemory } from "../../stores/memory.ts";
import { implementRoutes } from "../api.ts";

/** Path segments arrive unchecked; they become key parts, so they are held to the same rule as the tools'. */
function names(params: Record<string, string>): { namespace: string; key: string } {
  const problems: { path: string; message: string; code: string }[] = [];
  const check = (field: "namespace" | "key") => {
    const result = memoryName.safeParse(params[field] ?? "");
    if (!result.success)
      problems.push({
        path: field,
        message: result.error.issues[0]?.message ?? "invalid",
        code: "invalid_format",
      });
    return params[field] ?? "";
  };
  const namespace = check("namespace");
  const key = params.key === undefined ? "" : check("key");
  if (problems.length > 0) throw validationFailed("Invalid memory path", problems);
  return { namespace, key };
}

export const memoryRoutes = implementRoutes({
  listMemoryKeys: {
    handle: ({ params, query, principal }) =>
      listMemoryKeys(principal.tenantId, names(params).namespace, query),
  },
  getMemory: {
    handle: async ({ params, principal }) => {
      const { namespace, key } = names(params);
      const entry = await getMemory(principal.tenantId, namespace, key);
      if (entry === undefined) throw notFound("Memory entry", `${namespace}/${key}`);
      return entry;
    },
  },
  putMemory: {
    handle: ({ params, body, principal }) => {
      const { namespace, key } = names(params);
      return putMemory(principal.tenantId, namespace, key, body.value, body.ttlSeconds);
    },
  },
  deleteMemory: {
    handle: async ({ params, principal }) => {
      const { namespace, key } = names(params);
      if (!(await deleteMemory(principal.tenantId, namespace, key)))
        throw notFound("Memory entry", `${namespace}/${key}`);
      return { status: 204 };
    },
  },
});
