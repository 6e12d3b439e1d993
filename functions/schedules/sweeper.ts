import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { sweep } from "#shared/jobs/sweeper";
import { logger } from "#shared/observability";

/** Runs on the manifest's schedule (every minute). */
export const handler = middy(async () => {
  const report = await sweep();
  logger.info("Sweep finished", { ...report });
  return report;
}).use(injectLambdaContext(logger, { resetKeys: true }));
