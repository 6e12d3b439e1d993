import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import { sweep } from "#shared/jobs/sweeper";
import { logger, publishMetrics, tracer } from "#shared/observability";

/** Runs on the manifest's schedule (every minute). */
export const handler = middy(async () => {
  const report = await sweep();
  logger.info("Sweep finished", { ...report });
  return report;
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
