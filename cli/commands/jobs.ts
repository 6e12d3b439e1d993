import { existsSync } from "node:fs";
import { JobStatus } from "#events/jobs";
import { UsageError } from "../args.ts";
import { type JobDetail, SwitchboardError } from "../client.ts";
import { type Command, type Context, parseJson, readSource, stringOption } from "../context.ts";
import { between, JobProgress, stepsTable, table } from "../output.ts";
import { readWorkflowFile } from "./workflows.ts";

/** Exit code of a followed job: 0 when it succeeded, 1 when it failed, was cancelled or timed out. */
export const outcomeCode = (status: string) => (status === "succeeded" ? 0 : 1);

const watchOptions = {
  timeout: {
    type: "string",
    value: "seconds",
    description: "With --watch: stop waiting after this long (exit 3)",
  },
} as const;

async function readInput(context: Context, raw: string | undefined): Promise<unknown> {
  if (raw === undefined) return undefined;
  if (raw === "-" || raw.startsWith("@")) return parseJson(await readSource(context.io, raw), "--input");
  return parseJson(raw, "--input");
}

function timeoutMs(raw: string | undefined, command: string): number | undefined {
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError("--timeout is a number of seconds", command);
  return seconds * 1000;
}

/** A workflow argument is a file (inline workflow), a stored workflow's name, or its id. */
async function workflowReference(context: Context, ref: string) {
  if (ref === "-" || ref.endsWith(".json") || existsSync(ref)) {
    return { workflow: await readWorkflowFile(context, ref, "jobs run") };
  }
  const client = await context.client();
  try {
    const byName = await client.workflows.findByName(ref);
    return { workflowId: byName?.id ?? ref };
  } catch (error) {
    // A listing that is not there (or not allowed) still leaves the id to try.
    if (error instanceof SwitchboardError && (error.status === 404 || error.status === 403))
      return { workflowId: ref };
    throw error;
  }
}

function printJob(context: Context, job: JobDetail): void {
  const took = between(job.startedAt ?? job.createdAt, job.endedAt);
  context.print(
    table(
      ["FIELD", "VALUE"],
      [
        ["id", job.id],
        [
          "workflow",
          `${job.workflowName}${job.workflowVersion === undefined ? "" : ` v${job.workflowVersion}`}`,
        ],
        ["status", job.status],
        ["created", job.createdAt],
        ["took", job.endedAt === undefined ? "-" : took],
        ...(job.error === undefined ? [] : [["error", `${job.error.code}: ${job.error.message}`]]),
      ],
    ),
  );
  context.print(stepsTable(job.steps));
  if (job.output !== undefined) context.print(`output:\n${JSON.stringify(job.output, null, 2)}`);
}

/**
 * Follows a job over the WebSocket until it ends and returns the exit code. Text mode shows steps as they
 * finish (and a progress bar on a terminal); --json prints each event as one JSON line.
 */
export async function follow(context: Context, jobId: string, timeout?: number): Promise<number> {
  const client = await context.client();
  const job = await client.jobs.get(jobId);
  const progress = new JobProgress(
    context.io.stdout,
    job.steps,
    job.definition?.nodes.length ?? job.steps.length,
  );
  const interrupted = context.io.signal;
  const terminal = await client
    .watch(
      jobId,
      (event) => {
        if (context.json) context.io.stdout.write(`${JSON.stringify(event)}\n`);
        else progress.onEvent(event);
      },
      {
        ...(timeout === undefined ? {} : { timeoutMs: timeout }),
        ...(interrupted === undefined ? {} : { signal: interrupted }),
        onConnection: (state, attempt) => {
          if (state === "reconnecting" && !context.json && attempt > 1) {
            context.warn(`connection lost; reconnecting (attempt ${attempt})`);
          }
        },
      },
    )
    .finally(() => progress.end());
  if (context.json) return outcomeCode(terminal.status);
  // The terminal event decides the outcome; the job is read again only for its times and output.
  const final = await client.jobs.get(jobId);
  const took = between(final.startedAt ?? final.createdAt, final.endedAt ?? terminal.at);
  context.print(`job ${jobId} ${terminal.status} in ${took}`);
  const error = terminal.error ?? final.error;
  if (error !== undefined) context.print(`error: ${error.code}: ${error.message}`);
  const output = terminal.output ?? final.output;
  if (terminal.status === "succeeded" && output !== undefined) context.print(JSON.stringify(output, null, 2));
  return outcomeCode(terminal.status);
}

export const jobCommands: Command[] = [
  {
    path: ["jobs", "run"],
    summary: "Start a job; with --watch follow it live and exit with its outcome",
    description:
      "Start a job of a stored workflow (by name or id) or of a workflow file. With --watch, follow it over the\n" +
      "WebSocket until it ends; the exit code is 0 when it succeeded and 1 when it failed, was cancelled or timed out.",
    positionals: [
      { name: "workflow", description: "A stored workflow's name or id, or a workflow JSON file" },
    ],
    options: {
      input: {
        type: "string",
        short: "i",
        value: "json",
        description: "The job's input: JSON, @file or - for stdin",
      },
      watch: { type: "boolean", short: "w", description: "Follow the job until it ends" },
      "idempotency-key": { type: "string", value: "key", description: "Start at most one job for this key" },
      ...watchOptions,
    },
    examples: [
      `switchboard jobs run triage --input '{"url":"https://example.com"}' --watch`,
      "switchboard jobs run ./wf.json --input @input.json --watch --json",
    ],
    async run(context, args) {
      const input = await readInput(context, stringOption(args, "input"));
      const timeout = timeoutMs(stringOption(args, "timeout"), "jobs run");
      const reference = await workflowReference(context, args.positionals[0] as string);
      const idempotencyKey = stringOption(args, "idempotency-key");
      const client = await context.client();
      const created = await client.jobs.create({
        ...reference,
        ...(input === undefined ? {} : { input }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      });
      if (context.json) context.io.stdout.write(`${JSON.stringify(created)}\n`);
      else context.print(`job ${created.jobId} ${created.status}`);
      if (args.values.watch !== true) return 0;
      return follow(context, created.jobId, timeout);
    },
  },
  {
    path: ["jobs", "watch"],
    summary: "Follow a job live until it ends and exit with its outcome",
    positionals: [{ name: "id", description: "The job's id" }],
    options: { ...watchOptions },
    async run(context, args) {
      return follow(
        context,
        args.positionals[0] as string,
        timeoutMs(stringOption(args, "timeout"), "jobs watch"),
      );
    },
  },
  {
    path: ["jobs", "get"],
    summary: "Show a job and its steps",
    positionals: [{ name: "id", description: "The job's id" }],
    async run(context, args) {
      const job = await (await context.client()).jobs.get(args.positionals[0] as string);
      if (context.json) context.printJson(job);
      else printJob(context, job);
      return 0;
    },
  },
  {
    path: ["jobs", "list"],
    summary: "List jobs, newest first",
    options: {
      status: {
        type: "string",
        short: "s",
        value: "status",
        description: `One of ${JobStatus.options.join(", ")}`,
      },
      workflow: { type: "string", value: "id", description: "Only jobs of this workflow id" },
      limit: { type: "string", short: "n", value: "n", description: "Page size, 1-100 (default 25)" },
      cursor: { type: "string", value: "cursor", description: "Continue from a previous page" },
      all: { type: "boolean", description: "Follow the cursor through every page" },
    },
    async run(context, args) {
      const status = stringOption(args, "status");
      if (status !== undefined && !JobStatus.safeParse(status).success) {
        throw new UsageError(`--status is one of ${JobStatus.options.join(", ")}`, "jobs list");
      }
      const limitRaw = stringOption(args, "limit");
      const limit = limitRaw === undefined ? undefined : Number(limitRaw);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)) {
        throw new UsageError("--limit is a whole number from 1 to 100", "jobs list");
      }
      const client = await context.client();
      const query = {
        ...(status === undefined ? {} : { status: status as JobStatus }),
        ...(stringOption(args, "workflow") === undefined
          ? {}
          : { workflowId: stringOption(args, "workflow") }),
        ...(limit === undefined ? {} : { limit }),
      };
      let page = await client.jobs.list({ ...query, cursor: stringOption(args, "cursor") });
      const items = [...page.items];
      while (args.values.all === true && page.cursor !== undefined) {
        page = await client.jobs.list({ ...query, cursor: page.cursor });
        items.push(...page.items);
      }
      const cursor = args.values.all === true ? undefined : page.cursor;
      if (context.json) {
        context.printJson({ items, ...(cursor === undefined ? {} : { cursor }) });
        return 0;
      }
      context.print(
        table(
          ["ID", "STATUS", "WORKFLOW", "CREATED", "TOOK"],
          items.map((j) => [
            j.id,
            j.status,
            j.workflowName,
            j.createdAt,
            between(j.startedAt ?? j.createdAt, j.endedAt),
          ]),
        ),
      );
      if (cursor !== undefined) context.warn(`more: switchboard jobs list --cursor ${cursor}`);
      return 0;
    },
  },
  {
    path: ["jobs", "events"],
    summary: "Print a job's timeline",
    positionals: [{ name: "id", description: "The job's id" }],
    options: {
      since: { type: "string", value: "seq", description: "Only events after this sequence number" },
    },
    async run(context, args) {
      const since = Number(stringOption(args, "since") ?? 0);
      if (!Number.isInteger(since) || since < 0)
        throw new UsageError("--since is a sequence number", "jobs events");
      const page = await (await context.client()).jobs.events(args.positionals[0] as string, since);
      if (context.json) context.printJson(page);
      else {
        context.print(
          table(
            ["SEQ", "AT", "TYPE", "DETAIL"],
            page.items.map((e) => [
              e.seq,
              e.at,
              e.type,
              e.type === "job.status_changed"
                ? e.status
                : e.type === "step.status_changed"
                  ? `${e.nodeId}${e.itemIndex === undefined ? "" : `[${e.itemIndex}]`} ${e.status} #${e.attempt}`
                  : e.type === "job.note"
                    ? e.message
                    : `${e.nodeId} ${e.approvalId}`,
            ]),
          ),
        );
      }
      return 0;
    },
  },
  {
    path: ["jobs", "cancel"],
    summary: "Cancel a job",
    positionals: [{ name: "id", description: "The job's id" }],
    async run(context, args) {
      const result = await (await context.client()).jobs.cancel(args.positionals[0] as string);
      if (context.json) context.printJson(result);
      else context.print(`job ${result.jobId} ${result.status}`);
      return 0;
    },
  },
  {
    path: ["jobs", "retry"],
    summary: "Re-run a failed job from its failed steps",
    positionals: [{ name: "id", description: "The job's id" }],
    options: {
      watch: { type: "boolean", short: "w", description: "Follow the job until it ends" },
      ...watchOptions,
    },
    async run(context, args) {
      const timeout = timeoutMs(stringOption(args, "timeout"), "jobs retry");
      const result = await (await context.client()).jobs.retry(args.positionals[0] as string);
      if (context.json) context.io.stdout.write(`${JSON.stringify(result)}\n`);
      else context.print(`job ${result.jobId} ${result.status}`);
      if (args.values.watch !== true) return 0;
      return follow(context, result.jobId, timeout);
    },
  },
];
