/**
 * The job store, by seam: the item layout (items), the one-write commits (writes), the reads, and the
 * timeline pages the stream consumer stores.
 */
export {
  decodeStep,
  type JobMeta,
  jobDeadline,
  LOST_MESSAGE_SECONDS,
  type LoadedJob,
  STEP_INLINE_BYTES,
  type StoredStep,
  SWEEP_SHARDS,
  stepDueAt,
} from "./jobs/items.ts";
export {
  getJobWithSteps,
  jobExists,
  type ListJobsOptions,
  listJobs,
  loadedFromItem,
  loadJob,
} from "./jobs/reads.ts";
export { EVENT_TTL_SECONDS, listEvents, writeTimelinePage } from "./jobs/timeline.ts";
export {
  ConcurrentUpdateError,
  type CreateJobInput,
  commitDecision,
  findIdempotencyKey,
  insertJob,
  requestHash,
  SUMMARY_FIELDS,
  summaryItem,
} from "./jobs/writes.ts";
