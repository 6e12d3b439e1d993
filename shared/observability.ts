import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { Tracer } from "@aws-lambda-powertools/tracer";
import type { MiddlewareObj } from "@middy/core";

/** One logger, tracer and metrics instance per container, shared by every module of a function. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "switchboard" });
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "switchboard" });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "Switchboard",
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "switchboard",
});

/**
 * Powertools' `logMetrics`, flushing EMF at the end of each invocation, but only when the invocation recorded
 * a metric: Powertools warns on every empty flush, which for the api (most requests record none) would be a
 * log line per request. `throwOnEmptyMetrics` stays off for the same reason.
 */
// biome-ignore lint/suspicious/noExplicitAny: the middleware goes on handlers of every event and result type.
export function publishMetrics(): MiddlewareObj<any, any> {
  const inner = logMetrics(metrics, { throwOnEmptyMetrics: false });
  const publish = async (request: Parameters<NonNullable<typeof inner.after>>[0]) => {
    if (metrics.hasStoredMetrics()) await inner.after?.(request);
  };
  return {
    before: async (request) => {
      await inner.before?.(request);
    },
    after: publish,
    onError: publish,
  };
}
