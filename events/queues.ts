import type { JobPriority } from "./jobs.ts";

/**
 * The queues the functions talk through, by the environment variables that carry their URLs. The manifest
 * adds how they are deployed (timeouts, retention, consumers); the functions need only these names.
 */
export interface QueueContract {
  name: string;
  urlEnv: string;
  dlq: { name: string; urlEnv: string };
}

/**
 * Carries one `StepMessage` per ready step of a normal-priority job. Every step message has its tenant as
 * `MessageGroupId`, which makes each steps queue an SQS fair queue: a tenant with a backlog cannot hold up
 * another tenant's messages.
 */
export const STEPS_QUEUE = {
  name: "steps",
  urlEnv: "STEPS_QUEUE_URL",
  dlq: { name: "steps-dlq", urlEnv: "STEPS_DLQ_URL" },
} as const satisfies QueueContract;

/** Steps of high-priority jobs: a queue of their own, so they never wait behind a normal or low backlog. */
export const STEPS_HIGH_QUEUE = {
  name: "steps-high",
  urlEnv: "STEPS_HIGH_QUEUE_URL",
  dlq: { name: "steps-high-dlq", urlEnv: "STEPS_HIGH_DLQ_URL" },
} as const satisfies QueueContract;

/** Steps of low-priority jobs: consumed with a smaller share of workers, but never none. */
export const STEPS_LOW_QUEUE = {
  name: "steps-low",
  urlEnv: "STEPS_LOW_QUEUE_URL",
  dlq: { name: "steps-low-dlq", urlEnv: "STEPS_LOW_DLQ_URL" },
} as const satisfies QueueContract;

/** The steps queue of each job priority. */
export const STEP_QUEUES = {
  high: STEPS_HIGH_QUEUE,
  normal: STEPS_QUEUE,
  low: STEPS_LOW_QUEUE,
} as const satisfies Record<JobPriority, QueueContract>;

/** The queue a step message of this priority goes to; a message without one is normal. */
export function stepQueueFor(priority: JobPriority | undefined): QueueContract {
  return STEP_QUEUES[priority ?? "normal"];
}

export const QUEUES: readonly QueueContract[] = [STEPS_HIGH_QUEUE, STEPS_QUEUE, STEPS_LOW_QUEUE];

/**
 * The worker Lambda's timeout. Workflow validation refuses a Lambda step whose own limit it cannot give, so
 * the limit is part of the contract; the manifest deploys the worker with it.
 */
export const WORKER_TIMEOUT_SECONDS = 120;
