import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import { ScheduleFiring } from "#events/schedules";
import { logger, publishMetrics, tracer } from "#shared/observability";
import { fireSchedule } from "#shared/schedules/service";

/**
 * The target of every tenant schedule in EventBridge Scheduler: starts the schedule's workflow. A firing that
 * starts nothing (paused, deleted) returns normally, so the Scheduler does not retry it; infrastructure errors
 * throw, and the Scheduler retries them with the same scheduled time, which the job's idempotency key absorbs.
 */
export const handler = middy(async (event: unknown) => {
  const parsed = ScheduleFiring.safeParse(event);
  if (!parsed.success) {
    // Retrying a malformed payload cannot help.
    logger.error("Dropping a malformed schedule firing", { issues: parsed.error.issues });
    return { started: false, reason: "malformed firing" };
  }
  logger.appendKeys({ tenantId: parsed.data.tenantId, scheduleId: parsed.data.scheduleId });
  const outcome = await fireSchedule(parsed.data);
  if (outcome.started || outcome.jobId !== undefined) logger.info("Schedule fired", { ...outcome });
  else logger.warn("Schedule fired but started no job", { ...outcome });
  return outcome;
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
