import { z } from "zod";

/** Bodies of the system routes: queue depths, dead letters and their redrive. */

export const DlqStatus = z.object({
  name: z.string(),
  visible: z.number(),
  oldestMessageAgeSeconds: z
    .number()
    .nullable()
    .describe(
      "Age since first sent of the oldest of up to ten peeked dead letters; null when none is visible",
    ),
});

export const QueueStatus = z.object({
  name: z.string(),
  visible: z.number(),
  inFlight: z.number(),
  delayed: z.number(),
  oldestMessageAgeSeconds: z
    .null()
    .describe(
      "Not available: SQS has no such queue attribute (CloudWatch's ApproximateAgeOfOldestMessage does), and " +
        "peeking the queue would count as a receive toward its DLQ. See the QueueLag metric instead.",
    ),
  dlq: DlqStatus,
});

export const Reachability = z.object({
  url: z.string(),
  reachable: z.boolean(),
  httpStatus: z.number().optional().describe("Any HTTP answer, 401 and 404 included, means reachable"),
  latencyMs: z.number().optional(),
  error: z.string().optional(),
  checkedAt: z.string(),
});

export const ProviderStatus = z.object({
  name: z.string(),
  /** False when an agent of this provider names a stored secret that does not exist. */
  configured: z.boolean(),
  agents: z.number(),
  /** At least one agent of this provider names a secret that is stored. */
  secret: z.boolean(),
  missingSecrets: z.array(z.string()).optional(),
  /** Whether every endpoint the agents use answered a bounded request just now (cached briefly). */
  reachable: z.boolean().describe("scripted is built in and always reachable"),
  endpoints: z.array(Reachability),
});

export const BreakerStatus = z.object({
  kind: z.enum(["provider", "mcp", "http"]),
  target: z.string(),
  state: z.enum(["closed", "open", "half_open"]),
  failures: z.number().describe("Consecutive failures"),
  openedAt: z.string().optional(),
  updatedAt: z.string().optional(),
  lastError: z.string().optional(),
});

export const McpServerStatus = z.object({ id: z.string(), name: z.string(), ...Reachability.shape });

export const DeadLetterItem = z.object({
  messageId: z.string(),
  tenantId: z.string(),
  jobId: z.string(),
  nodeId: z.string(),
  itemIndex: z.number().int().optional(),
  attempt: z.number().int(),
  reason: z.string(),
  deadLetteredAt: z.string(),
  receiveCount: z.number().int().optional(),
  source: z
    .enum(["recorded", "queue"])
    .describe("recorded: the DLQ consumer failed the step and kept it; queue: still in the SQS DLQ"),
});

export const DeadLetterList = z.object({
  queue: z.object({ name: z.string(), visible: z.number() }),
  items: z.array(DeadLetterItem),
  cursor: z.string().optional(),
});

export const DeadLetterQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).optional(),
});

export const RedriveResult = z.object({
  taskHandle: z.string().optional(),
  movedFromQueue: z
    .number()
    .describe("Messages in the SQS DLQ when the move task started (platform admins only)"),
  rerunJobs: z.array(z.string()).describe("Failed jobs re-run from their failed steps"),
  cleared: z.number().describe("Recorded dead letters resolved and removed"),
});

export const Health = z.object({ status: z.literal("ok") });
export const Readiness = z.object({ status: z.string(), checks: z.record(z.string(), z.string()) });

export const SystemStatus = z
  .object({
    version: z.string(),
    queues: z.array(QueueStatus),
    dlq: z.object({
      count: z.number().describe("queued + recorded"),
      queued: z.number().describe("Messages in the SQS DLQs (every tenant's)"),
      recorded: z.number().describe("Dead letters recorded by the DLQ consumer, in the caller's scope"),
    }),
    providers: z.array(ProviderStatus),
    breakers: z.array(BreakerStatus).describe("The tenant's circuit breakers, one per endpoint"),
    mcpServers: z.array(McpServerStatus),
  })
  .meta({ id: "SystemStatus" });
export type SystemStatus = z.infer<typeof SystemStatus>;
