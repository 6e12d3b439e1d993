import { z } from "zod";
import { NODE_TYPES, WorkflowDefinition } from "#events/workflow";
import type { WorkflowProblem } from "#events/workflows-api";
import { knownReferences } from "../../agents/catalog.ts";
import { accessScope, requireAccess, visibleOrNotFound } from "../../auth/ownership.ts";
import { type ValidateOptions, validateWorkflow } from "../../engine/validate.ts";
import { AppError, notFound } from "../../errors.ts";
import { disableSchedulesOfWorkflow } from "../../schedules/service.ts";
import {
  createWorkflow,
  deleteWorkflow,
  getWorkflow,
  getWorkflowVersion,
  listWorkflows,
  listWorkflowVersions,
  updateWorkflow,
} from "../../stores/workflows.ts";
import { implementRoutes } from "../api.ts";

/** A definition is stored as one item; DynamoDB's limit is 400 KB, and the item has other fields too. */
const MAX_DEFINITION_BYTES = 350 * 1024;
const INVALID = Symbol("invalid workflow definition");

interface InvalidBody {
  [INVALID]: { value: unknown };
}

/**
 * The definition body. Parsing never fails here: failures are kept and reported by `checkDefinition`, so that
 * structure errors name their node as the semantic ones do. The schema still documents the body in OpenAPI.
 */
const DefinitionBody = WorkflowDefinition.catch(
  (ctx) => ({ [INVALID]: { value: ctx.value } }) as unknown as WorkflowDefinition,
);

function isInvalid(body: unknown): body is InvalidBody {
  return typeof body === "object" && body !== null && INVALID in body;
}

function nodeIdAt(value: unknown, path: readonly PropertyKey[]): string | undefined {
  if (path[0] !== "nodes" || typeof path[1] !== "number") return undefined;
  const nodes = (value as { nodes?: unknown } | null)?.nodes;
  const node = Array.isArray(nodes) ? (nodes[path[1]] as { id?: unknown } | undefined) : undefined;
  return typeof node?.id === "string" ? node.id : undefined;
}

function structureProblems(body: InvalidBody): WorkflowProblem[] {
  const { value } = body[INVALID];
  // Parsed again for the issues with their messages (the catch sees them before messages are filled in).
  const issues = WorkflowDefinition.safeParse(value).error?.issues ?? [];
  return issues.map((issue) => {
    const nodeId = nodeIdAt(value, issue.path);
    let message = issue.message;
    if (issue.code === "invalid_union" && issue.path.at(-1) === "type") {
      const nodes = (value as { nodes?: { type?: unknown }[] }).nodes;
      const given = typeof issue.path[1] === "number" ? nodes?.[issue.path[1]]?.type : undefined;
      message = `unknown node type ${JSON.stringify(given)} (expected ${NODE_TYPES.join(", ")})`;
    }
    return { ...(nodeId === undefined ? {} : { nodeId }), path: issue.path.map(String).join("."), message };
  });
}

/** Which agent and tool names exist: read only when the definition names any, since it costs two queries. */
async function referenceChecks(tenantId: string, definition: WorkflowDefinition): Promise<ValidateOptions> {
  const names = definition.nodes.some((node) => node.type === "agent" || node.type === "tool");
  return names ? knownReferences(tenantId) : {};
}

/** Every problem with a definition: structure (zod) first; when the structure is sound, the graph and names. */
export async function checkDefinition(
  tenantId: string,
  body: unknown,
): Promise<{ definition: WorkflowDefinition; problems: [] } | { problems: WorkflowProblem[] }> {
  if (isInvalid(body)) return { problems: structureProblems(body) };
  const definition = body as WorkflowDefinition;
  const problems = validateWorkflow(definition, await referenceChecks(tenantId, definition)).map((p) => ({
    ...(p.nodeId === undefined ? {} : { nodeId: p.nodeId }),
    path: p.path.map(String).join("."),
    message: p.message,
  }));
  return problems.length === 0 ? { definition, problems: [] } : { problems };
}

function refusal(problems: WorkflowProblem[]): AppError {
  const [first] = problems;
  const where = first?.nodeId === undefined ? (first?.path ?? "") : `node "${first.nodeId}"`;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  return new AppError(
    400,
    "VALIDATION_FAILED",
    `The workflow is not valid: ${where}: ${first?.message ?? ""}${more}`,
    problems,
  );
}

async function requireValidDefinition(tenantId: string, body: unknown): Promise<WorkflowDefinition> {
  const checked = await checkDefinition(tenantId, body);
  if (!("definition" in checked)) throw refusal(checked.problems);
  if (Buffer.byteLength(JSON.stringify(checked.definition), "utf8") > MAX_DEFINITION_BYTES) {
    throw new AppError(
      413,
      "PAYLOAD_TOO_LARGE",
      `A workflow definition is limited to ${MAX_DEFINITION_BYTES} bytes`,
    );
  }
  return checked.definition;
}

const VersionParam = z.coerce.number().int().min(1).max(999_999);

export const workflowRoutes = implementRoutes({
  createWorkflow: {
    body: DefinitionBody,
    handle: async ({ body, principal }) =>
      createWorkflow(
        principal.tenantId,
        await requireValidDefinition(principal.tenantId, body),
        principal.principalId,
      ),
  },
  listWorkflows: {
    handle: async ({ query, principal }) => {
      const { ownerId } = await accessScope(principal);
      return listWorkflows(principal.tenantId, {
        ...query,
        ...(ownerId === undefined ? {} : { createdBy: ownerId }),
      });
    },
  },
  validateWorkflow: {
    body: DefinitionBody,
    audit: false,
    handle: async ({ body, principal }) => {
      const checked = await checkDefinition(principal.tenantId, body);
      if (!("definition" in checked)) throw refusal(checked.problems);
      return { valid: true };
    },
  },
  getWorkflow: {
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      return visibleOrNotFound(
        await accessScope(principal),
        await getWorkflow(principal.tenantId, id),
        "Workflow",
        id,
      );
    },
  },
  updateWorkflow: {
    body: DefinitionBody,
    audit: ({ params }) => ({ resource: `/v1/workflows/${params.id ?? ""}` }),
    handle: async ({ params, body, principal }) => {
      await requireAccess(await accessScope(principal), "workflow", params.id ?? "");
      return updateWorkflow(
        principal.tenantId,
        params.id ?? "",
        await requireValidDefinition(principal.tenantId, body),
        principal.principalId,
      );
    },
  },
  deleteWorkflow: {
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      await requireAccess(await accessScope(principal), "workflow", id);
      await deleteWorkflow(principal.tenantId, id);
      await disableSchedulesOfWorkflow(principal.tenantId, id);
      return { status: 204 };
    },
  },
  listWorkflowVersions: {
    handle: async ({ params, query, principal }) => {
      const id = params.id ?? "";
      await requireAccess(await accessScope(principal), "workflow", id);
      const page = await listWorkflowVersions(principal.tenantId, id, query);
      if (page.items.length === 0 && query.cursor === undefined) throw notFound("Workflow", id);
      return page;
    },
  },
  getWorkflowVersion: {
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      await requireAccess(await accessScope(principal), "workflow", id);
      const version = VersionParam.safeParse(params.version);
      if (!version.success) throw notFound("Workflow version", `${id}/${params.version}`);
      const found = await getWorkflowVersion(principal.tenantId, id, version.data);
      if (found === undefined) throw notFound("Workflow version", `${id}/${version.data}`);
      return found;
    },
  },
});
