import { z } from "zod";
import { JobPriority } from "./jobs.ts";

/** The steps queue's message: run (or resume) one step of one job. */
export const StepMessage = z.object({
  v: z.literal(1),
  tenantId: z.string().min(1),
  jobId: z.string().min(1),
  nodeId: z.string().min(1),
  itemIndex: z.number().int().min(0).optional(),
  attempt: z.number().int().min(1),
  /** The job's priority, so a re-send goes back to the same queue. Absent means normal. */
  priority: JobPriority.optional(),
});
export type StepMessage = z.infer<typeof StepMessage>;
