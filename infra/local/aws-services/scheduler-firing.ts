import { randomBytes } from "node:crypto";
import { type FunctionName, manifest } from "#infra/manifest";
import type { FunctionRunner } from "../functions.ts";
import { deployedName } from "../lambda-context.ts";
import type { Logger } from "../log.ts";
import type { LocalSchedule, LocalScheduler } from "./scheduler.ts";

/** How often due schedules are looked for. AWS promises the minute; the twin is much closer, so tests are quick. */
const TICK_MS = 200;
/** Attempts per firing when the target fails, as the schedule's RetryPolicy allows (capped locally). */
const MAX_LOCAL_ATTEMPTS = 3;

/**
 * The Lambda function a target ARN names, as a manifest function: `arn:aws:lambda:…:function:switchboard-schedule`
 * (optionally with a qualifier) → `schedule`. Undefined for a target that is not one of ours.
 */
export function functionForTarget(arn: string): FunctionName | undefined {
  const match = /^arn:aws[a-z-]*:lambda:[^:]*:\d{12}:function:([^:]+)(?::[^:]+)?$/.exec(arn);
  if (!match) return undefined;
  const deployed = match[1];
  return (Object.keys(manifest.functions) as FunctionName[]).find(
    (name) => deployedName(name) === deployed || name === deployed,
  );
}

/** The target input with the Scheduler's context attributes filled in, as the service does on each attempt. */
export function fillContextAttributes(
  input: string,
  values: { scheduleArn: string; scheduledTime: Date; executionId: string; attempt: number },
): string {
  return input
    .replaceAll("<aws.scheduler.schedule-arn>", values.scheduleArn)
    .replaceAll(
      "<aws.scheduler.scheduled-time>",
      values.scheduledTime.toISOString().replace(/\.\d{3}Z$/, "Z"),
    )
    .replaceAll("<aws.scheduler.execution-id>", values.executionId)
    .replaceAll("<aws.scheduler.attempt-number>", String(values.attempt));
}

/**
 * Fires the Scheduler's enabled schedules when they are due, invoking their Lambda targets asynchronously
 * (runs may overlap, as in AWS) and retrying a failed invocation with the same scheduled time.
 */
export function startSchedulerFiring(options: {
  scheduler: LocalScheduler;
  functions: FunctionRunner;
  log: Logger;
  now?: () => number;
}): { stop(): Promise<void> } {
  const { scheduler, functions, log } = options;
  const now = options.now ?? Date.now;
  const running = new Set<Promise<void>>();
  let stopped = false;

  async function deliver(schedule: LocalSchedule, scheduledAt: number): Promise<void> {
    const name = functionForTarget(schedule.target.Arn);
    if (name === undefined) {
      log.warn(
        `schedule ${schedule.name}: target ${schedule.target.Arn} is not a function of this twin; not fired`,
      );
      return;
    }
    const declared = (schedule.target.RetryPolicy as { MaximumRetryAttempts?: number } | undefined)
      ?.MaximumRetryAttempts;
    const attempts = Math.min(MAX_LOCAL_ATTEMPTS, 1 + (declared ?? 185));
    for (let attempt = 1; attempt <= attempts && !stopped; attempt++) {
      const raw = fillContextAttributes(schedule.target.Input ?? "{}", {
        scheduleArn: scheduler.arnOf(schedule),
        scheduledTime: new Date(scheduledAt),
        executionId: randomBytes(8).toString("hex"),
        attempt,
      });
      let event: unknown = raw;
      try {
        event = JSON.parse(raw);
      } catch {
        // A non-JSON input reaches the function as the string it is.
      }
      try {
        await functions.invoke(name, event);
        return;
      } catch (error) {
        log.error(`schedule ${schedule.name}: ${name} failed (attempt ${attempt} of ${attempts})`, error);
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 1)).unref());
      }
    }
  }

  const timer = setInterval(() => {
    const at = now();
    for (const schedule of scheduler.list()) {
      if (schedule.state !== "ENABLED" || schedule.nextFireAt === undefined || schedule.nextFireAt > at)
        continue;
      const scheduledAt = schedule.nextFireAt;
      // Book the next firing before this one runs, so a slow target never makes it fire twice; firings missed
      // while the process slept are not made up for in a burst.
      scheduler.fired(schedule, Math.max(scheduledAt, at));
      const run = deliver(schedule, scheduledAt).finally(() => running.delete(run));
      running.add(run);
    }
  }, TICK_MS);
  timer.unref();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(running);
    },
  };
}
