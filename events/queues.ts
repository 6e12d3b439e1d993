/**
 * The queues the functions talk through, by the environment variables that carry their URLs. The manifest
 * adds how they are deployed (timeouts, retention, consumers); the functions need only these names.
 */
export interface QueueContract {
  name: string;
  urlEnv: string;
  dlq: { name: string; urlEnv: string };
}

/** Carries one `StepMessage` per ready step; its DLQ is the one the dead-letter routes serve. */
export const STEPS_QUEUE = {
  name: "steps",
  urlEnv: "STEPS_QUEUE_URL",
  dlq: { name: "steps-dlq", urlEnv: "STEPS_DLQ_URL" },
} as const satisfies QueueContract;

export const QUEUES: readonly QueueContract[] = [STEPS_QUEUE];

/**
 * The worker Lambda's timeout. Workflow validation refuses a Lambda step whose own limit it cannot give, so
 * the limit is part of the contract; the manifest deploys the worker with it.
 */
export const WORKER_TIMEOUT_SECONDS = 120;
