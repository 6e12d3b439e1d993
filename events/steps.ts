import { z } from "zod";
import { JobPriority } from "./jobs.ts";

/** forEach items are stored in chunks of this many (shared/stores/jobs/chunks.ts); a batch stays in one. */
const ITEMS_PER_CHUNK = 100;

/** One forEach item of a batch message: its index and the attempt the message is for. */
export const BatchItem = z.object({ i: z.number().int().min(0), a: z.number().int().min(1) });
export type BatchItem = z.infer<typeof BatchItem>;

/**
 * The steps queue's message: run (or resume) one step of one job. With `items`, it names several items of
 * one forEach node, all in one chunk, which one worker runs one after another (shared/jobs/chunk-run.ts);
 * `itemIndex` is then absent and `attempt` is the first item's.
 */
export const StepMessage = z
  .object({
    v: z.literal(1),
    tenantId: z.string().min(1),
    jobId: z.string().min(1),
    nodeId: z.string().min(1),
    itemIndex: z.number().int().min(0).optional(),
    attempt: z.number().int().min(1),
    /** The job's priority, so a re-send goes back to the same queue. Absent means normal. */
    priority: JobPriority.optional(),
    items: z.array(BatchItem).min(1).max(ITEMS_PER_CHUNK).optional(),
    /** The step is a forEach node's own, queued to fan out: the worker writes its chunks and starts its items. */
    fanOut: z.literal(true).optional(),
    /**
     * The job item as the commit that queued this step wrote it, when small (shared/jobs/effects.ts): the
     * worker decides on it instead of reading the job again. Commits are conditioned on its version, so a
     * copy that has gone stale only loses the race.
     */
    job: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((message, ctx) => {
    const items = message.items;
    if (items === undefined || items.length === 0) return;
    if (message.itemIndex !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["itemIndex"],
        message: "a batch names its items in `items` only",
      });
    const chunk = Math.floor((items[0] as BatchItem).i / ITEMS_PER_CHUNK);
    if (items.some((item) => Math.floor(item.i / ITEMS_PER_CHUNK) !== chunk))
      ctx.addIssue({ code: "custom", path: ["items"], message: "a batch's items must all be in one chunk" });
    if (new Set(items.map((item) => item.i)).size !== items.length)
      ctx.addIssue({ code: "custom", path: ["items"], message: "a batch names each item once" });
  });
export type StepMessage = z.infer<typeof StepMessage>;
