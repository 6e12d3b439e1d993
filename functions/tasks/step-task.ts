import { StepMessage } from "#events/steps";
import { requireEnv } from "#shared/config";
import { getNode } from "#shared/engine/engine";
import { executeStep, type StepOutcome, stepTimeoutSeconds } from "#shared/jobs/run-step";
import { heartbeat, recordStepOutcome } from "#shared/jobs/service";
import { STEP_MESSAGE_ENV } from "#shared/jobs/tasks";
import { logger, metrics } from "#shared/observability";
import { loadJob } from "#shared/stores/jobs";

/** How often the task renews its lease, and for how long. A task that stops renewing is healed by the sweeper. */
const HEARTBEAT_SECONDS = 30;
const LEASE_SECONDS = 120;

/**
 * Entry point of the Fargate task for long steps. It runs the same step code as the worker, renews the
 * attempt's lease while it works, and reports through the same transition as the worker. Exits non-zero
 * only when the platform failed; the step's own failure is a recorded result.
 */
export async function main(): Promise<number> {
  const message = StepMessage.parse(JSON.parse(requireEnv(STEP_MESSAGE_ENV)));
  logger.appendKeys({ tenantId: message.tenantId, jobId: message.jobId, nodeId: message.nodeId });
  const loaded = await loadJob(message.tenantId, message.jobId);
  if (loaded === undefined) {
    logger.error("Job not found; nothing to do");
    return 0;
  }
  if (!(await heartbeat(message, LEASE_SECONDS))) {
    logger.info("Attempt is no longer running; exiting");
    return 0;
  }
  const timer = setInterval(() => {
    heartbeat(message, LEASE_SECONDS)
      .then((running) => {
        if (!running) {
          logger.info("Attempt was cancelled or superseded; stopping");
          process.exit(0);
        }
      })
      .catch((error) => logger.warn("Heartbeat failed; will try again", { error: (error as Error).message }));
  }, HEARTBEAT_SECONDS * 1000);
  try {
    const node = getNode(loaded.state, message.nodeId);
    const limitMs = stepTimeoutSeconds(node) * 1000;
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<StepOutcome>((resolve) => {
      timeout = setTimeout(
        () =>
          resolve({
            ok: false,
            error: { code: "TIMEOUT", message: `Step ran past ${limitMs / 1000} s` },
            retryable: true,
          }),
        limitMs,
      );
    });
    const outcome = await Promise.race([
      executeStep(loaded.state, message.nodeId, message.itemIndex, message.attempt),
      timedOut,
    ]);
    clearTimeout(timeout);
    await recordStepOutcome(message, outcome);
    return 0;
  } finally {
    clearInterval(timer);
  }
}

/** A task is no Lambda invocation: nothing flushes its metrics (StepDuration, job outcomes) but this. */
function exit(code: number): never {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  process.exit(code);
}

main().then(exit, (error) => {
  logger.error("Step task failed", error as Error);
  exit(1);
});
