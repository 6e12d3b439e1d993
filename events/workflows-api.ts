import { z } from "zod";
import { WorkflowDefinition } from "./workflow.ts";

/** REST shapes of `/v1/workflows`. The body of POST, PUT and validate is a `WorkflowDefinition`. */

export const WorkflowSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().optional(),
    /** The latest version. Versions start at 1 and never change once written. */
    version: z.number().int().min(1),
    createdAt: z.string(),
    updatedAt: z.string(),
    createdBy: z.string(),
  })
  .meta({ id: "WorkflowSummary" });
export type WorkflowSummary = z.infer<typeof WorkflowSummary>;

export const Workflow = WorkflowSummary.extend({ definition: WorkflowDefinition }).meta({ id: "Workflow" });
export type Workflow = z.infer<typeof Workflow>;

export const WorkflowVersion = z
  .object({
    workflowId: z.string(),
    version: z.number().int().min(1),
    name: z.string(),
    createdAt: z.string(),
    createdBy: z.string(),
    definition: WorkflowDefinition,
  })
  .meta({ id: "WorkflowVersion" });
export type WorkflowVersion = z.infer<typeof WorkflowVersion>;

export const ListWorkflowsQuery = z
  .object({
    cursor: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .strict();
export type ListWorkflowsQuery = z.infer<typeof ListWorkflowsQuery>;

export const ListWorkflowsResponse = z.object({
  items: z.array(WorkflowSummary),
  cursor: z.string().optional(),
});
export const ListWorkflowVersionsResponse = z.object({
  items: z.array(WorkflowVersion),
  cursor: z.string().optional(),
});

/** One problem found in a definition: the node it is about (when it is about one), where, and what. */
export const WorkflowProblem = z
  .object({
    nodeId: z.string().optional(),
    /** Dotted path into the definition: `nodes.2.dependsOn.0`. */
    path: z.string(),
    message: z.string(),
  })
  .meta({ id: "WorkflowProblem" });
export type WorkflowProblem = z.infer<typeof WorkflowProblem>;

export const ValidateWorkflowResponse = z.object({ valid: z.literal(true) });
