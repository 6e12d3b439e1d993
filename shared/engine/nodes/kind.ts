import type { z } from "zod";
import type { StepError } from "#events/jobs";
import type { ExpressionContext } from "#shared/engine/expressions";
import type { JobState } from "#shared/engine/types";

/**
 * A node kind: everything the platform knows about one node `type`, in one file under shared/engine/nodes.
 * The engine and the validator only read its flags and call its pure hooks. Its runner, which does the I/O,
 * is in runners.ts, which only the step runner imports, so the pure engine never loads the agent loop, the
 * tools or the sandbox.
 */

/** A node as a kind sees it: the fields every node has, whatever its type. */
export interface BaseNode {
  id: string;
  type: string;
  dependsOn?: string[];
  if?: string;
  forEach?: string;
  input?: unknown;
  timeoutSeconds?: number;
  runtime?: "lambda" | "fargate";
  onError?: "fail" | "continue";
}

export type StepRuntime = "lambda" | "fargate";

/** `logs`: what a code step wrote to its console, bounded (see shared/jobs/bound-error.ts). */
export type StepOutcome =
  | { ok: true; output: unknown; logs?: string[] }
  | {
      ok: false;
      error: StepError;
      retryable: boolean;
      logs?: string[];
      /**
       * Not a failure: the step could not start yet (a tokens-per-minute window is full, the provider
       * throttles). The same attempt goes back to the queue for this many seconds, holding no compute.
       */
      waitSeconds?: number;
    };

/** How a step of this kind starts once its node may run (its `if` passed; one per forEach item). */
export type StepStart =
  /** A worker runs it: the engine queues the attempt and sends its message. */
  | { type: "queue" }
  /** It waits durably, then succeeds, until this time (epoch milliseconds). */
  | { type: "wait"; until: number }
  /** A person decides: the engine asks for an approval with this message. */
  | { type: "approval"; message: string }
  /** It cannot start (a bad expression, say): the step fails, without retry. */
  | { type: "fail"; error: StepError };

export interface StartContext {
  /** The expression context of this attempt ($input, $steps, $item, $index, $attempt, $now). */
  context: () => ExpressionContext;
  now: Date;
}

/** A result that a person must look at before the job goes on. */
export interface ResultReview {
  message: string;
  confidence?: number;
  preview: unknown;
  /** Timeline note: why it needs a person. */
  note: string;
}

/** What a result means: go on (with an optional timeline note), or hold it for review. */
export type ResultVerdict = { type: "accept"; note?: string } | ({ type: "review" } & ResultReview);

/** What a person's decision on a waiting step does. */
export type ApprovalOutcome =
  | { type: "succeed"; output: unknown }
  | { type: "skip"; output: unknown; why: string }
  | { type: "fail"; error: StepError };

/** Helpers the validator hands a kind's `validate`: paths are relative to the node. */
export interface NodeChecks {
  problem(path: (string | number)[], message: string): void;
  /** A templated string: its syntax and what it reads, in the node's scope ($item only under forEach). */
  template(value: string, path: (string | number)[]): void;
  /** A field that must be one whole `{% … %}` expression. */
  expression(value: string, path: (string | number)[]): void;
  knownAgents?: (name: string) => boolean;
  knownTools?: (name: string) => boolean;
}

/** One attempt of a step, as its runner gets it. */
export interface StepRun<N extends BaseNode = BaseNode> {
  state: JobState;
  node: N;
  itemIndex?: number;
  attempt: number;
  /** The node's `input`, resolved. */
  input: unknown;
  context: ExpressionContext;
  timeoutMs: number;
}

export interface NodeKind<N extends BaseNode = BaseNode> {
  type: N["type"];
  /** The node's zod schema in the public contract (events/workflow.ts), shared with the dashboard and CLI. */
  schema?: z.ZodType;
  /** It runs user work that another attempt might fix, so `retry` applies to it. */
  retryable: boolean;
  /** The worker that recorded a parent may run it at once, without a queue round trip. */
  inline: boolean;
  /**
   * Running an attempt again has no effect beyond its result (no I/O), so a worker may run it without a
   * claim and record it with its successors in one write; a repeat just loses the version race.
   */
  pure?: boolean;
  /** Where its attempts may run; empty for kinds the engine completes itself (a wait, an approval). */
  runtimes: readonly StepRuntime[];
  /** Its steps wait for a person's decision. */
  needsPerson: boolean;
  /** Checks beyond the schema, for this kind's own fields. */
  validate?(node: N, check: NodeChecks): void;
  /** How a step starts. Without it, the step is queued for a worker. Pure: no I/O. */
  start?(node: N, start: StartContext): Promise<StepStart>;
  /** Whether a result goes on or waits for a person. Without it, every result goes on. Pure. */
  review?(node: N, output: unknown, label: string): ResultVerdict;
  /**
   * A person decided on a waiting step. Without it, an approval keeps the step's held output and a rejection
   * fails it. Pure.
   */
  decided?(node: N, decision: "approve" | "reject", held: unknown): ApprovalOutcome;
}

/**
 * Runs one attempt of a kind whose `runtimes` are not empty. Errors of the step come back as a failed outcome;
 * errors of the platform throw.
 */
export type NodeRunner<N extends BaseNode = BaseNode> = (run: StepRun<N>) => Promise<StepOutcome>;

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
