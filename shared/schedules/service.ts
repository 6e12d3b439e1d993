import { DEFAULT_JOB_PRIORITY } from "#events/jobs";
import type {
  CreateScheduleRequest,
  Schedule,
  ScheduleFiring,
  UpdateScheduleRequest,
} from "#events/schedules";
import { nowIso } from "../db.ts";
import { AppError, conflict, notFound, validationFailed } from "../errors.ts";
import { newId } from "../ids.ts";
import { startJob } from "../jobs/service.ts";
import { logger } from "../observability.ts";
import {
  deleteScheduleRecord,
  getScheduleRecord,
  insertSchedule,
  listScheduleRecords,
  recordFiring,
  replaceSchedule,
  ScheduleChangedError,
  type ScheduleRecord,
} from "../stores/schedules.ts";
import { getWorkflow, workflowExists } from "../stores/workflows.ts";
import {
  isValidTimeZone,
  nextFireTimes,
  parseScheduleExpression,
  ScheduleExpressionError,
} from "./expression.ts";
import { deleteRemoteSchedule, putRemoteSchedule } from "./remote.ts";

/** How many upcoming firings a schedule shows. */
export const NEXT_FIRE_TIMES = 5;
/** A schedule's input is kept in its item, next to everything else; keep it well under the item limit. */
const MAX_INPUT_BYTES = 64 * 1024;
const MAX_UPDATE_ATTEMPTS = 5;

export interface Actor {
  tenantId: string;
  principalId: string;
}

/** Refuses an expression or time zone EventBridge Scheduler would refuse, saying which and why. */
function checkTiming(expression: string, timezone: string, now: Date): void {
  const problems: { path: string; message: string }[] = [];
  let parsed: ReturnType<typeof parseScheduleExpression> | undefined;
  try {
    parsed = parseScheduleExpression(expression);
  } catch (error) {
    if (!(error instanceof ScheduleExpressionError)) throw error;
    problems.push({ path: "expression", message: error.message });
  }
  if (!isValidTimeZone(timezone)) {
    problems.push({
      path: "timezone",
      message: `"${timezone}" is not an IANA time zone (such as UTC or Europe/Berlin)`,
    });
  } else if (
    parsed?.kind === "at" &&
    nextFireTimes(parsed, { timeZone: timezone, after: now, count: 1 }).length === 0
  ) {
    problems.push({ path: "expression", message: `${expression} is in the past in ${timezone}` });
  }
  const [first] = problems;
  if (first !== undefined) throw validationFailed(`Invalid schedule: ${first.message}`, problems);
}

function checkInput(input: unknown): void {
  if (input !== undefined && Buffer.byteLength(JSON.stringify(input) ?? "", "utf8") > MAX_INPUT_BYTES) {
    throw new AppError(413, "PAYLOAD_TOO_LARGE", `A schedule's input is limited to ${MAX_INPUT_BYTES} bytes`);
  }
}

async function requireWorkflow(tenantId: string, workflowId: string): Promise<void> {
  if (!(await workflowExists(tenantId, workflowId))) throw notFound("Workflow", workflowId);
}

export function toSchedule(record: ScheduleRecord, now = new Date()): Schedule {
  const upcoming = record.enabled
    ? nextFireTimes(record.expression, {
        timeZone: record.timezone,
        after: now,
        count: NEXT_FIRE_TIMES,
        start: new Date(record.anchorAt),
      })
    : [];
  const { tenantId: _tenant, anchorAt: _anchor, version: _version, ...rest } = record;
  return {
    ...rest,
    priority: record.priority ?? DEFAULT_JOB_PRIORITY,
    nextFireTimes: upcoming.map((date) => date.toISOString()),
  };
}

export async function createSchedule(
  actor: Actor,
  body: CreateScheduleRequest,
  now = new Date(),
): Promise<Schedule> {
  checkTiming(body.expression, body.timezone, now);
  checkInput(body.input);
  await requireWorkflow(actor.tenantId, body.workflowId);
  const at = nowIso(now);
  const record: ScheduleRecord = {
    tenantId: actor.tenantId,
    id: newId("sch_", now.getTime()),
    ...(body.name === undefined ? {} : { name: body.name }),
    workflowId: body.workflowId,
    expression: body.expression.trim(),
    timezone: body.timezone,
    enabled: body.enabled,
    ...(body.input === undefined ? {} : { input: body.input }),
    ...(body.priority === undefined ? {} : { priority: body.priority }),
    createdAt: at,
    updatedAt: at,
    createdBy: actor.principalId,
    anchorAt: at,
    version: 1,
  };
  await insertSchedule(record);
  try {
    await putRemoteSchedule(record);
  } catch (error) {
    // Without its Scheduler schedule the item would never fire: take it back, then report.
    await deleteScheduleRecord(record.tenantId, record.id);
    throw remoteError(error);
  }
  return toSchedule(record, now);
}

/** A Scheduler ValidationException is the caller's input (an expression AWS reads differently): a 400. */
function remoteError(error: unknown): unknown {
  if (error instanceof Error && error.name === "ValidationException") {
    return validationFailed(`EventBridge Scheduler refused the schedule: ${error.message}`, [
      { path: "expression", message: error.message },
    ]);
  }
  return error;
}

export async function getSchedule(tenantId: string, scheduleId: string): Promise<Schedule> {
  const record = await getScheduleRecord(tenantId, scheduleId);
  if (record === undefined) throw notFound("Schedule", scheduleId);
  return toSchedule(record);
}

export async function listSchedules(
  tenantId: string,
  options: { workflowId?: string; cursor?: string; limit: number; createdBy?: string },
): Promise<{ items: Schedule[]; cursor?: string }> {
  const page = await listScheduleRecords(tenantId, options);
  const now = new Date();
  return { ...page, items: page.items.map((record) => toSchedule(record, now)) };
}

/**
 * Applies a change to the item (conditioned on its version) and then to the Scheduler. If the Scheduler refuses,
 * the item goes back to what it was, so the two do not drift apart.
 */
async function changeSchedule(
  tenantId: string,
  scheduleId: string,
  change: (current: ScheduleRecord) => Promise<ScheduleRecord | undefined>,
  now: Date,
): Promise<ScheduleRecord> {
  for (let attempt = 0; ; attempt++) {
    const current = await getScheduleRecord(tenantId, scheduleId);
    if (current === undefined) throw notFound("Schedule", scheduleId);
    const next = await change(current);
    if (next === undefined) return current;
    const updated: ScheduleRecord = { ...next, updatedAt: nowIso(now), version: current.version + 1 };
    try {
      await replaceSchedule(updated, current.version);
    } catch (error) {
      if (error instanceof ScheduleChangedError && attempt + 1 < MAX_UPDATE_ATTEMPTS) continue;
      if (error instanceof ScheduleChangedError)
        throw conflict(`Schedule ${scheduleId} is being changed by others; try again`);
      throw error;
    }
    try {
      await putRemoteSchedule(updated);
    } catch (error) {
      await replaceSchedule({ ...current, version: updated.version + 1 }, updated.version).catch(
        (restoreError: unknown) => {
          logger.error("Could not restore a schedule after the Scheduler refused a change", {
            scheduleId,
            error: (restoreError as Error).message,
          });
        },
      );
      throw remoteError(error);
    }
    return updated;
  }
}

export async function updateSchedule(
  tenantId: string,
  scheduleId: string,
  patch: UpdateScheduleRequest,
  now = new Date(),
): Promise<Schedule> {
  checkInput(patch.input);
  const record = await changeSchedule(
    tenantId,
    scheduleId,
    async (current) => {
      const next: ScheduleRecord = { ...current };
      if (patch.name !== undefined) next.name = patch.name;
      if (patch.input !== undefined) next.input = patch.input;
      if (patch.priority !== undefined) next.priority = patch.priority;
      if (patch.workflowId !== undefined) next.workflowId = patch.workflowId;
      if (patch.expression !== undefined) next.expression = patch.expression.trim();
      if (patch.timezone !== undefined) next.timezone = patch.timezone;
      if (patch.enabled !== undefined) next.enabled = patch.enabled;
      const timingChanged = next.expression !== current.expression || next.timezone !== current.timezone;
      if (timingChanged) checkTiming(next.expression, next.timezone, now);
      if (next.workflowId !== current.workflowId || (next.enabled && !current.enabled)) {
        await requireWorkflow(tenantId, next.workflowId);
      }
      // The Scheduler starts counting a rate() again from the write that changes it or turns it back on.
      if (timingChanged || (next.enabled && !current.enabled)) next.anchorAt = nowIso(now);
      return next;
    },
    now,
  );
  return toSchedule(record, now);
}

export async function deleteSchedule(tenantId: string, scheduleId: string): Promise<void> {
  if ((await getScheduleRecord(tenantId, scheduleId)) === undefined) throw notFound("Schedule", scheduleId);
  // The Scheduler schedule goes first: a failure after it leaves an item that a second delete removes, never a
  // Scheduler schedule firing for an item that is gone.
  await deleteRemoteSchedule(scheduleId);
  await deleteScheduleRecord(tenantId, scheduleId);
}

/** Pauses every schedule of a workflow (the workflow was deleted). Returns how many it paused. */
export async function disableSchedulesOfWorkflow(
  tenantId: string,
  workflowId: string,
  now = new Date(),
): Promise<number> {
  let paused = 0;
  let cursor: string | undefined;
  do {
    const page = await listScheduleRecords(tenantId, {
      workflowId,
      limit: 100,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const item of page.items) {
      if (!item.enabled) continue;
      await changeSchedule(
        tenantId,
        item.id,
        async (current) => (current.enabled ? { ...current, enabled: false } : undefined),
        now,
      );
      paused++;
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return paused;
}

/**
 * One firing: starts the schedule's workflow at its latest version. The scheduled time makes the job's
 * idempotency key, so a retried or duplicated firing starts the job once.
 */
export async function fireSchedule(
  firing: ScheduleFiring,
  now = new Date(),
): Promise<{ started: boolean; jobId?: string; reason?: string }> {
  const schedule = await getScheduleRecord(firing.tenantId, firing.scheduleId);
  if (schedule === undefined) return { started: false, reason: "the schedule no longer exists" };
  if (!schedule.enabled) return { started: false, reason: "the schedule is paused" };
  const workflow = await getWorkflow(firing.tenantId, schedule.workflowId);
  if (workflow === undefined)
    return { started: false, reason: `workflow ${schedule.workflowId} no longer exists` };
  // Unfilled placeholders mean the target was invoked by hand, not by the Scheduler: use the time of arrival.
  const scheduledTime = firing.scheduledTime.startsWith("<") ? nowIso(now) : firing.scheduledTime;
  const job = await startJob(
    {
      tenantId: firing.tenantId,
      createdBy: schedule.createdBy,
      definition: workflow.definition,
      workflowId: workflow.id,
      workflowVersion: workflow.version,
      ...(schedule.input === undefined ? {} : { input: schedule.input }),
      idempotencyKey: `schedule:${schedule.id}:${scheduledTime}`,
      scheduleId: schedule.id,
      ...(schedule.priority === undefined ? {} : { priority: schedule.priority }),
    },
    now,
  );
  await recordFiring(firing.tenantId, schedule.id, nowIso(now), job.jobId);
  return { started: job.created, jobId: job.jobId };
}
