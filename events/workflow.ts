import { z } from "zod";

/** A JSONata expression wrapped in `{% … %}`, the convention AWS Step Functions uses. */
export const EXPRESSION_PATTERN = /^\s*\{%((?:(?!%\})[\s\S])*)%\}\s*$/;

const nodeId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, "node ids start with a letter and use letters, digits, _ and -");

export const RetryPolicy = z
  .object({
    maxAttempts: z.number().int().min(1).max(20).default(1),
    intervalSeconds: z.number().min(0).max(86_400).default(1),
    backoffRate: z.number().min(1).max(10).default(2),
    maxIntervalSeconds: z.number().min(0).max(86_400).optional(),
    jitter: z.boolean().default(true),
  })
  .strict();
export type RetryPolicy = z.infer<typeof RetryPolicy>;

const base = {
  id: nodeId,
  dependsOn: z.array(nodeId).max(50).optional(),
  if: z.string().optional(),
  forEach: z.string().optional(),
  /** With `forEach`: at most this many items run at once; the others start as earlier ones end. */
  maxConcurrency: z.number().int().min(1).max(10_000).optional(),
  input: z.unknown().optional(),
  retry: RetryPolicy.optional(),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .optional(),
  onError: z.enum(["fail", "continue"]).optional(),
  runtime: z.enum(["lambda", "fargate"]).optional(),
  description: z.string().max(500).optional(),
};

export const CodeNode = z
  .object({ ...base, type: z.literal("code"), code: z.string().min(1).max(64_000) })
  .strict();
export const ToolNode = z
  .object({ ...base, type: z.literal("tool"), tool: z.string().min(1).max(128) })
  .strict();
export const AgentNode = z
  .object({
    ...base,
    type: z.literal("agent"),
    agent: z.string().min(1).max(128),
    /** A session id (or an expression giving one): the conversation's history goes to the model and the turn is appended. */
    session: z.string().min(1).max(2000).optional(),
    review: z
      .object({
        autoApproveAt: z.number().min(0).max(1),
        notifyAt: z.number().min(0).max(1).optional(),
        /**
         * Route with the agent's calibration (GET /v1/agents/{id}/calibration): `autoApproveAt` becomes the
         * ceiling and `minAutoApproveAt` (default `notifyAt`, else 0.5) the floor of the threshold applied.
         */
        adaptive: z.boolean().optional(),
        minAutoApproveAt: z.number().min(0).max(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export const ApprovalNode = z
  .object({
    ...base,
    type: z.literal("approval"),
    message: z.string().min(1).max(2000),
    approvers: z.array(z.string().min(1)).max(50).optional(),
    quorum: z.number().int().min(1).max(50).optional(),
    onReject: z.enum(["fail", "skip"]).optional(),
    onTimeout: z.enum(["reject", "approve"]).optional(),
  })
  .strict();
export const WaitNode = z
  .object({
    ...base,
    type: z.literal("wait"),
    seconds: z
      .union([
        z
          .number()
          .min(0)
          .max(365 * 86_400),
        z.string(),
      ])
      .optional(),
    until: z.string().optional(),
  })
  .strict();

export const WorkflowNode = z.discriminatedUnion("type", [
  CodeNode,
  ToolNode,
  AgentNode,
  ApprovalNode,
  WaitNode,
]);
export type WorkflowNode = z.infer<typeof WorkflowNode>;
export type NodeType = WorkflowNode["type"];
/** Every node type the schema accepts, in schema order. */
export const NODE_TYPES: readonly NodeType[] = WorkflowNode.options.map((option) => option.shape.type.value);

export const WorkflowDefinition = z
  .object({
    name: z.string().min(1).max(128),
    description: z.string().max(2000).optional(),
    nodes: z.array(WorkflowNode).min(1).max(200),
    output: z.unknown().optional(),
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional(),
  })
  .strict()
  .meta({ id: "WorkflowDefinition" });
export type WorkflowDefinition = z.infer<typeof WorkflowDefinition>;
