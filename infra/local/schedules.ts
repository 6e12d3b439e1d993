import { randomUUID } from "node:crypto";
import type { ScheduleSpec } from "#infra/manifest";
import type { FunctionRunner } from "./functions.ts";
import { ACCOUNT_ID } from "./lambda-context.ts";
import type { Logger } from "./log.ts";
import { STOP_GRACE_MS, settleWithin } from "./settle.ts";

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** `rate(5 minutes)` → 300000. Other expressions (cron, at) belong to the Scheduler service, not to this file. */
export function rateToMs(expression: string): number | undefined {
  const match = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  const word = match[2] ?? "";
  const plural = word.endsWith("s");
  // EventBridge rejects `rate(1 minutes)` and `rate(2 minute)`; so does this.
  if (value <= 0 || plural !== (value !== 1)) return undefined;
  const unit = plural ? word.slice(0, -1) : word;
  return value * (UNIT_MS[unit] ?? 0);
}

/**
 * The payload the function receives on each run. The stack's schedule target must send the same input, built
 * from the Scheduler's context attributes (`<aws.scheduler.schedule-arn>`, `<aws.scheduler.scheduled-time>`).
 */
export function scheduledEvent(spec: ScheduleSpec, region: string, scheduledTime: Date) {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.scheduler",
    account: ACCOUNT_ID,
    time: scheduledTime.toISOString().replace(/\.\d{3}Z$/, "Z"),
    region,
    resources: [`arn:aws:scheduler:${region}:${ACCOUNT_ID}:schedule/default/switchboard-${spec.name}`],
    detail: {},
  };
}

/** Fires the manifest's fixed-rate schedules. Runs may overlap, as asynchronous invocations do in AWS. */
export function startSchedules(options: {
  schedules: readonly ScheduleSpec[];
  region: string;
  functions: FunctionRunner;
  log: Logger;
}): { stop(): Promise<void> } {
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  for (const spec of options.schedules) {
    const every = rateToMs(spec.expression);
    if (every === undefined) {
      options.log.warn(
        `schedule ${spec.name}: ${spec.expression} is not a rate() expression; it will not run locally`,
      );
      continue;
    }
    const timer = setInterval(() => {
      const run = options.functions
        .invoke(spec.function, scheduledEvent(spec, options.region, new Date()))
        .catch((error: unknown) => {
          // Scheduler would retry per its retry policy and then drop to its DLQ; the next tick is the retry here.
          options.log.error(`schedule ${spec.name}: ${spec.function} failed`, error);
        })
        .finally(() => running.delete(run));
      running.add(run);
    }, every);
    timers.push(timer);
  }
  return {
    async stop() {
      for (const timer of timers) clearInterval(timer);
      await settleWithin(running, STOP_GRACE_MS);
    },
  };
}
