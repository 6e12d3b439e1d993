import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import { sweep } from "#shared/jobs/sweeper";
import { logger, publishMetrics, tracer } from "#shared/observability";

/**
 * Runs on the manifest's schedule (every minute). An event with `detail.restartedAt` (sent by the local twin
 * when it starts) asks for the recovery sweep after a restart of everything.
 */
export const handler = middy(async (event?: { detail?: { restartedAt?: string } }) => {
  const restartedAt = event?.detail?.restartedAt;
  const report = await sweep(
    new Date(),
    restartedAt === undefined ? {} : { restartedAt: new Date(restartedAt) },
  );
  logger.info("Sweep finished", { ...report });
  return report;
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
