import { QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { NewTimelineEvent } from "#events/timeline";
import { requestApproval } from "../approvals/request.ts";
import { sweepApproval } from "../approvals/service.ts";
import { dynamo } from "../aws.ts";
import { tableName } from "../db.ts";
import { buildContext, decide, getNode } from "../engine/engine.ts";
import { resolveTemplate } from "../engine/expressions.ts";
import { type Decision, type JobState, type StepState, stepKey } from "../engine/types.ts";
import { keys } from "../keys.ts";
import { logger } from "../observability.ts";
import { SWEEP_SHARDS } from "../stores/jobs.ts";
import { withJob } from "./service.ts";

export interface SweepReport {
  requeued: number;
  leasesExpired: number;
  waitsResumed: number;
  timedOut: number;
}

function unchanged(state: JobState): Decision {
  return { state, changedSteps: [], jobChanged: false, commands: [], notes: [] };
}

async function healStep(item: Record<string, unknown>, now: Date, report: SweepReport): Promise<void> {
  const tenantId = String(item.tenantId);
  const jobId = String(item.jobId);
  const nodeId = String(item.nodeId);
  const itemIndex = item.itemIndex === undefined ? undefined : Number(item.itemIndex);
  const key = stepKey(nodeId, itemIndex);
  await withJob(tenantId, jobId, async ({ state }) => {
    const step = state.steps[key];
    if (step === undefined || ["succeeded", "failed", "cancelled", "timed_out"].includes(state.status))
      return undefined;
    const note = (message: string): NewTimelineEvent => ({
      type: "job.note",
      nodeId,
      message,
      reason: "SWEEPER",
    });
    if (
      step.status === "running" &&
      step.leaseUntil !== undefined &&
      Date.parse(step.leaseUntil) <= now.getTime()
    ) {
      report.leasesExpired++;
      const decision = await decide(
        state,
        {
          type: "stepFailed",
          nodeId,
          ...(itemIndex === undefined ? {} : { itemIndex }),
          attempt: step.attempt,
          error: { code: "LEASE_EXPIRED", message: "The attempt stopped reporting before its lease ran out" },
          retryable: true,
        },
        now,
      );
      return {
        decision,
        extraEvents: [note(`Attempt ${step.attempt} lost its lease; recorded as failed`)],
        result: undefined,
      };
    }
    if (step.status === "waiting_approval") {
      await ensureApprovalRequested(state, step);
      return undefined;
    }
    if (step.status === "queued" || step.status === "waiting") {
      const next = structuredClone(state);
      const healed = next.steps[key];
      if (healed === undefined) return undefined;
      if (step.status === "queued") {
        healed.queuedAt = now.toISOString();
        delete healed.notBefore;
        report.requeued++;
      } else {
        report.waitsResumed++;
      }
      return {
        decision: {
          ...unchanged(next),
          changedSteps: [healed],
          commands: [
            {
              type: "run",
              nodeId,
              ...(itemIndex === undefined ? {} : { itemIndex }),
              attempt: step.attempt,
              delaySeconds: 0,
            },
          ],
        },
        extraEvents: [
          note(`No worker had taken the ${step.status} step by its due time; its message was sent again`),
        ],
        result: undefined,
      };
    }
    return undefined;
  });
}

/**
 * A process that died between committing a `waiting_approval` step and creating its approval would leave
 * the step waiting for nobody. Requesting again is a no-op when the approval exists (its id comes from the
 * waiting step), so the sweeper simply asks once more, then drops the step from the sweep index.
 */
async function ensureApprovalRequested(state: JobState, step: StepState): Promise<void> {
  const node = getNode(state, step.nodeId);
  const output = step.output as { confidence?: unknown } | undefined;
  const confidence = typeof output?.confidence === "number" ? output.confidence : undefined;
  let message = `The result of ${step.nodeId} needs a person's approval for the job to go on.`;
  if (node?.type === "approval") {
    const context = buildContext(state, {
      nodeId: step.nodeId,
      itemIndex: step.itemIndex,
      attempt: step.attempt,
    });
    message = String(await resolveTemplate(node.message, context).catch(() => node.message));
  }
  await requestApproval(state, {
    type: "requestApproval",
    nodeId: step.nodeId,
    ...(step.itemIndex === undefined ? {} : { itemIndex: step.itemIndex }),
    message,
    ...(confidence === undefined ? {} : { confidence }),
    ...(node?.type === "agent" ? { preview: step.output } : {}),
  });
  const key = keys.step(state.tenantId, state.jobId, step.nodeId, step.itemIndex);
  await dynamo()
    .send(
      new UpdateCommand({
        TableName: tableName(),
        Key: key,
        UpdateExpression: "REMOVE gsi4pk, gsi4sk",
        ConditionExpression: "#status = :waiting",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":waiting": "waiting_approval" },
      }),
    )
    .catch((error: Error) => {
      if (error.name !== "ConditionalCheckFailedException") throw error;
    });
}

async function healJob(item: Record<string, unknown>, now: Date, report: SweepReport): Promise<void> {
  await withJob(String(item.tenantId), String(item.id), async ({ state }) => {
    if (!["queued", "running", "waiting"].includes(state.status)) return undefined;
    report.timedOut++;
    return {
      decision: await decide(state, { type: "jobTimedOut" }, now),
      extraEvents: [{ type: "job.note", message: "The job ran past its timeoutSeconds", reason: "SWEEPER" }],
      result: undefined,
    };
  });
}

/**
 * Heals what at-least-once delivery cannot: expired leases, lost messages, waits whose message vanished,
 * and jobs past their timeout. It reads only the sweep index, never the whole table.
 */
export async function sweep(now = new Date(), limitPerShard = 100): Promise<SweepReport> {
  const report: SweepReport = { requeued: 0, leasesExpired: 0, waitsResumed: 0, timedOut: 0 };
  for (let shard = 0; shard < SWEEP_SHARDS; shard++) {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        IndexName: "gsi4",
        KeyConditionExpression: "gsi4pk = :pk AND gsi4sk < :now",
        ExpressionAttributeValues: { ":pk": `SWEEP#${shard}`, ":now": now.toISOString() },
        Limit: limitPerShard,
      }),
    );
    for (const item of page.Items ?? []) {
      try {
        if (item.type === "step") await healStep(item, now, report);
        else if (item.type === "job") await healJob(item, now, report);
        // Approvals: expiry (onTimeout), steps that stopped waiting, and resolutions not yet delivered.
        else if (item.type === "approval") await sweepApproval(String(item.tenantId), String(item.id), now);
      } catch (error) {
        // One bad item must not stop the sweep; it is due again on the next run.
        logger.error("Sweeper could not heal an item", {
          pk: item.pk,
          sk: item.sk,
          error: (error as Error).message,
        });
      }
    }
  }
  return report;
}
