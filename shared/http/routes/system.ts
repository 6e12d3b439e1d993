import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type Message,
  ReceiveMessageCommand,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { z } from "zod";
import { QUEUES, type QueueContract, STEP_QUEUES, STEPS_QUEUE } from "#events/queues";
import { StepMessage } from "#events/steps";
import type { BreakerStatus, DeadLetterItem, McpServerStatus } from "#events/system";
import { dynamo, sqsClient } from "../../aws.ts";
import { ENV, optionalEnv, requireEnv } from "../../config.ts";
import { tableName } from "../../db.ts";
import { AppError } from "../../errors.ts";
import { retryJob } from "../../jobs/service.ts";
import { allMcpServers } from "../../mcp/store.ts";
import { logger } from "../../observability.ts";
import { listBreakers } from "../../resilience/breaker-store.ts";
import { checkReachability, MAX_CHECKS, providerProbeUrl } from "../../resilience/health.ts";
import { listAgents } from "../../stores/agents.ts";
import {
  allDeadLetters,
  countDeadLetters,
  type DeadLetterRecord,
  type DeadLetterScope,
  deleteDeadLetter,
  listDeadLetters,
} from "../../stores/dead-letters.ts";
import { loadJob } from "../../stores/jobs.ts";
import { listSecrets } from "../../stores/secrets.ts";
import { implementRoutes, type Principal } from "../api.ts";

/** One receive: SQS returns at most ten, and a peek must stay cheap. */
const PEEK_MAX = 10;

async function queueAttributes(url: string, names: string[]): Promise<Record<string, string>> {
  const { Attributes = {} } = await sqsClient().send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names as never }),
  );
  return Attributes;
}

async function queueDepth(url: string) {
  const attributes = await queueAttributes(url, [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
  ]);
  return {
    visible: Number(attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/**
 * Dead letters still in the DLQ, without taking them: a receive with visibility 0 leaves them visible to
 * the DLQ consumer. Only ever on a DLQ, which has no redrive policy of its own, so the receive this counts
 * moves nothing anywhere.
 */
async function peekDlq(url: string): Promise<Message[]> {
  const { Messages = [] } = await sqsClient().send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: PEEK_MAX,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
    }),
  );
  return Messages;
}

/** The depth first: while a peek is in flight, the messages it received may not count as visible. */
async function depthAndPeek(url: string, peek = true) {
  const dlq = await queueDepth(url);
  return { dlq, peeked: peek ? await peekDlq(url) : [] };
}

function ageSeconds(messages: Message[], now: number): number | null {
  const sent = messages
    .map((message) => Number(message.Attributes?.SentTimestamp))
    .filter((ms) => Number.isFinite(ms) && ms > 0);
  return sent.length === 0 ? null : Math.max(0, Math.round((now - Math.min(...sent)) / 1000));
}

async function queues() {
  const now = Date.now();
  return Promise.all(
    QUEUES.map(async (queue) => {
      const dlqUrl = requireEnv(queue.dlq.urlEnv);
      const [main, { dlq, peeked }] = await Promise.all([
        queueDepth(requireEnv(queue.urlEnv)),
        depthAndPeek(dlqUrl),
      ]);
      return {
        name: queue.name,
        ...main,
        oldestMessageAgeSeconds: null,
        dlq: { name: queue.dlq.name, visible: dlq.visible, oldestMessageAgeSeconds: ageSeconds(peeked, now) },
      };
    }),
  );
}

/** The queues whose DLQs the dead-letter routes serve: the steps queues, one per priority, each with a DLQ consumer. */
const stepsQueues = (): QueueContract[] => Object.values(STEP_QUEUES);

/** A platform admin operates on every tenant's dead letters; a tenant admin on its own only. */
const scopeOf = (principal: Principal): DeadLetterScope =>
  principal.platformAdmin ? {} : { tenantId: principal.tenantId };

function recordedItem(record: DeadLetterRecord): z.infer<typeof DeadLetterItem> {
  return {
    messageId: record.messageId,
    tenantId: record.tenantId,
    jobId: record.jobId,
    nodeId: record.nodeId,
    ...(record.itemIndex === undefined ? {} : { itemIndex: record.itemIndex }),
    attempt: record.attempt,
    reason: record.reason,
    deadLetteredAt: record.deadLetteredAt,
    receiveCount: record.receiveCount,
    source: "recorded",
  };
}

function queuedItem(message: Message, scope: DeadLetterScope): z.infer<typeof DeadLetterItem> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? "");
  } catch {
    return undefined;
  }
  const parsed = StepMessage.safeParse(body);
  if (!parsed.success) return undefined;
  const step = parsed.data;
  if (scope.tenantId !== undefined && step.tenantId !== scope.tenantId) return undefined;
  const sent = Number(message.Attributes?.SentTimestamp);
  const receives = Number(message.Attributes?.ApproximateReceiveCount);
  return {
    messageId: message.MessageId ?? "",
    tenantId: step.tenantId,
    jobId: step.jobId,
    nodeId: step.nodeId,
    ...(step.itemIndex === undefined ? {} : { itemIndex: step.itemIndex }),
    attempt: step.attempt,
    reason: "waiting in the dead-letter queue: the DLQ consumer has not handled it yet",
    // SQS does not say when a message was moved to the DLQ; its first send is the closest it keeps.
    deadLetteredAt: new Date(Number.isFinite(sent) && sent > 0 ? sent : Date.now()).toISOString(),
    ...(Number.isFinite(receives) ? { receiveCount: receives } : {}),
    source: "queue",
  };
}

/**
 * Starts a message move task from the DLQ back to the steps queue, or reports the one already running
 * (SQS allows one per queue). Every message in the queue moves, whichever tenant it belongs to.
 */
async function moveDlqBack(spec: QueueContract): Promise<{ taskHandle?: string; movedFromQueue: number }> {
  const dlqUrl = requireEnv(spec.dlq.urlEnv);
  const [dlq, queue] = await Promise.all([
    queueAttributes(dlqUrl, ["QueueArn", "ApproximateNumberOfMessages"]),
    queueAttributes(requireEnv(spec.urlEnv), ["QueueArn"]),
  ]);
  const sourceArn = dlq.QueueArn ?? "";
  const { Results = [] } = await sqsClient().send(
    new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }),
  );
  const current = Results[0];
  if (current?.Status === "RUNNING") {
    return {
      ...(current.TaskHandle === undefined ? {} : { taskHandle: current.TaskHandle }),
      movedFromQueue: current.ApproximateNumberOfMessagesToMove ?? 0,
    };
  }
  const waiting = Number(dlq.ApproximateNumberOfMessages ?? 0);
  if (waiting === 0) return { movedFromQueue: 0 };
  const { TaskHandle } = await sqsClient().send(
    new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: queue.QueueArn }),
  );
  return { ...(TaskHandle === undefined ? {} : { taskHandle: TaskHandle }), movedFromQueue: waiting };
}

/**
 * Re-runs the jobs of recorded dead letters from their failed steps, then drops the records. A job that is
 * no longer `failed` (retried since, cancelled, or done) has nothing to re-run, and its record is resolved.
 */
async function rerunRecorded(scope: DeadLetterScope): Promise<{ rerunJobs: string[]; cleared: number }> {
  const byJob = new Map<string, DeadLetterRecord[]>();
  for (const record of await allDeadLetters(scope)) {
    const key = `${record.tenantId}/${record.jobId}`;
    byJob.set(key, [...(byJob.get(key) ?? []), record]);
  }
  const rerunJobs: string[] = [];
  let cleared = 0;
  for (const records of byJob.values()) {
    const { tenantId, jobId } = records[0] as DeadLetterRecord;
    const loaded = await loadJob(tenantId, jobId);
    if (loaded?.state.status === "failed") {
      try {
        await retryJob(tenantId, jobId);
        rerunJobs.push(jobId);
      } catch (error) {
        // Someone else retried or cancelled it in between: nothing left for this redrive to do.
        if (!(error instanceof AppError && error.status === 409)) throw error;
      }
    }
    for (const record of records) {
      await deleteDeadLetter(record);
      cleared++;
    }
  }
  return { rerunJobs, cleared };
}

/**
 * The providers the tenant's agents use, with `scripted` (built in, always there), and whether their
 * credentials are in place: an agent may name a stored secret, and one that names a missing secret cannot run.
 */
async function providers(tenantId: string) {
  const [agents, secrets] = await Promise.all([
    (async () => {
      const all: { provider: string; secret?: string; baseUrl?: string }[] = [];
      let cursor: string | undefined;
      do {
        const page = await listAgents(tenantId, { limit: 100, ...(cursor === undefined ? {} : { cursor }) });
        all.push(...page.items);
        cursor = page.cursor;
      } while (cursor !== undefined);
      return all;
    })(),
    listSecrets(tenantId),
  ] as const);
  const stored = new Set(secrets.map((secret) => secret.name));
  type Entry = { agents: number; secret: boolean; missing: Set<string>; urls: Set<string> };
  const byProvider = new Map<string, Entry>([
    ["scripted", { agents: 0, secret: false, missing: new Set(), urls: new Set() }],
  ]);
  for (const agent of agents) {
    const entry = byProvider.get(agent.provider) ?? {
      agents: 0,
      secret: false,
      missing: new Set<string>(),
      urls: new Set<string>(),
    };
    entry.agents++;
    const url = providerProbeUrl(agent.provider, agent.baseUrl, process.env.AWS_REGION);
    if (url !== undefined) entry.urls.add(url);
    if (agent.secret !== undefined) {
      if (stored.has(agent.secret)) entry.secret = true;
      else entry.missing.add(agent.secret);
    }
    byProvider.set(agent.provider, entry);
  }
  let budget = MAX_CHECKS;
  return Promise.all(
    [...byProvider.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(async ([name, entry]) => {
        const urls = [...entry.urls].sort().slice(0, Math.max(0, budget));
        budget -= urls.length;
        const endpoints = await Promise.all(urls.map((url) => checkReachability(url)));
        return {
          name,
          configured: entry.missing.size === 0,
          agents: entry.agents,
          secret: entry.secret,
          ...(entry.missing.size === 0 ? {} : { missingSecrets: [...entry.missing].sort() }),
          reachable: name === "scripted" || (endpoints.length > 0 && endpoints.every((e) => e.reachable)),
          endpoints,
        };
      }),
  );
}

async function breakers(tenantId: string): Promise<z.infer<typeof BreakerStatus>[]> {
  return (await listBreakers(tenantId))
    .sort((a, b) => a.target.localeCompare(b.target))
    .map((breaker) => ({
      kind: breaker.kind,
      target: breaker.target,
      state: breaker.state,
      failures: breaker.failures,
      ...(breaker.openedAt === undefined ? {} : { openedAt: new Date(breaker.openedAt).toISOString() }),
      ...(breaker.updatedAt === undefined ? {} : { updatedAt: breaker.updatedAt }),
      ...(breaker.lastError === undefined ? {} : { lastError: breaker.lastError }),
    }));
}

async function mcpServers(tenantId: string): Promise<z.infer<typeof McpServerStatus>[]> {
  const servers = (await allMcpServers(tenantId)).slice(0, MAX_CHECKS);
  return Promise.all(
    servers.map(async (server) => ({
      id: server.id,
      name: server.name,
      ...(await checkReachability(server.url)),
    })),
  );
}

export const systemRoutes = implementRoutes({
  health: {
    handle: async () => ({ status: "ok" }),
  },
  ready: {
    handle: async () => {
      const checks: Record<string, string> = {};
      await Promise.all([
        dynamo()
          .send(new GetCommand({ TableName: tableName(), Key: { pk: "HEALTH", sk: "HEALTH" } }))
          .then(() => {
            checks.table = "ok";
          })
          .catch((error: Error) => {
            logger.warn("Readiness: table check failed", { error: error.name });
            checks.table = "unavailable";
          }),
        Promise.all(
          QUEUES.flatMap((queue) =>
            [queue.urlEnv, queue.dlq.urlEnv].map((env) => queueDepth(requireEnv(env))),
          ),
        )
          .then(() => {
            checks.queues = "ok";
          })
          .catch((error: Error) => {
            logger.warn("Readiness: queue check failed", { error: error.name });
            checks.queues = "unavailable";
          }),
      ]);
      const ok = Object.values(checks).every((value) => value === "ok");
      if (!ok) throw new AppError(503, "SERVICE_UNAVAILABLE", "A dependency is not ready", checks);
      return { status: "ready", checks };
    },
  },
  systemStatus: {
    handle: async ({ principal }) => {
      const [queueStatus, recorded, providerStatus, breakerStatus, mcpStatus] = await Promise.all([
        queues(),
        countDeadLetters(scopeOf(principal)),
        providers(principal.tenantId),
        breakers(principal.tenantId),
        mcpServers(principal.tenantId),
      ]);
      const queued = queueStatus.reduce((sum, queue) => sum + queue.dlq.visible, 0);
      return {
        version: optionalEnv(ENV.version, "0.1.0"),
        queues: queueStatus,
        dlq: { count: queued + recorded, queued, recorded },
        providers: providerStatus,
        breakers: breakerStatus,
        mcpServers: mcpStatus,
      };
    },
  },
  listDeadLetters: {
    handle: async ({ principal, query }) => {
      const scope = scopeOf(principal);
      const [dlqs, recorded] = await Promise.all([
        Promise.all(
          stepsQueues().map((spec) => depthAndPeek(requireEnv(spec.dlq.urlEnv), query.cursor === undefined)),
        ),
        listDeadLetters(scope, query),
      ]);
      const queued = dlqs.flatMap(({ peeked }) =>
        peeked.flatMap((message) => queuedItem(message, scope) ?? []),
      );
      // The normal queue's DLQ names them all, as before there was one per priority.
      const visible = dlqs.reduce((sum, { dlq }) => sum + dlq.visible, 0);
      return {
        queue: { name: STEPS_QUEUE.dlq.name, visible },
        items: [...queued, ...recorded.items.map(recordedItem)],
        ...(recorded.cursor === undefined ? {} : { cursor: recorded.cursor }),
      };
    },
  },
  redriveDeadLetters: {
    handle: async ({ principal }) => {
      // The SQS DLQ holds every tenant's messages and a move task cannot pick, so only a platform admin moves it.
      const moved = { movedFromQueue: 0 } as { taskHandle?: string; movedFromQueue: number };
      if (principal.platformAdmin) {
        for (const spec of stepsQueues()) {
          const one = await moveDlqBack(spec);
          moved.movedFromQueue += one.movedFromQueue;
          // The normal queue's task, as before there was one DLQ per priority.
          if (spec === STEPS_QUEUE && one.taskHandle !== undefined) moved.taskHandle = one.taskHandle;
        }
      }
      const rerun = await rerunRecorded(scopeOf(principal));
      logger.info("Dead letters redriven", {
        movedFromQueue: moved.movedFromQueue,
        rerunJobs: rerun.rerunJobs.length,
        cleared: rerun.cleared,
      });
      return { ...moved, ...rerun };
    },
  },
});
