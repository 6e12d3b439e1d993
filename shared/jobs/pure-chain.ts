import type { StepMessage } from "#events/steps";
import { ENV, numberEnv } from "../config.ts";
import { type DecideOptions, decide, getNode, isTerminalJob } from "../engine/engine.ts";
import { nodeKind } from "../engine/nodes/index.ts";
import { pureRunner } from "../engine/nodes/pure-runners.ts";
import { sandboxWarm, warmSandbox } from "../engine/sandbox.ts";
import type { Command, Decision, JobState } from "../engine/types.ts";
import { logger } from "../observability.ts";
import {
  attemptStep,
  leaseSecondsFor,
  type RunnerOf,
  type StepOutcome,
  stepTimeoutSeconds,
} from "./attempt.ts";
import { stepMessageFor } from "./effects.ts";
import { combined, keepLogs, outcomeEvent } from "./outcomes.ts";

/**
 * Pure steps (see NodeKind's `pure`) run without a claim: in memory, one after another, and their results
 * are written once, conditioned on the version the chain started from. The worker runs such chains
 * (runPureChain), and so does the start of a job, before its first write (runAtStart).
 */

/** A pure chain commits at least this often, so a long chain's progress shows. */
export const PURE_COMMIT_EVERY_MS = 250;

/**
 * Pure steps with a longer timeout are claimed as usual: the sweeper sends a queued step's message again
 * 30 s after it was due, and a long unclaimed attempt would then run twice (harmless, but wasted).
 */
export const PURE_UNCLAIMED_MAX_SECONDS = 60;

/**
 * At a job's start, the time its first pure steps may take in the request that starts it, all together
 * and each (SWITCHBOARD_START_CHAIN_MS sets it): a step that needs longer is cut short, forgotten, and left
 * queued for a worker, which gives it its whole timeout. Cheap code steps so finish in the request: no
 * message, no worker, one write.
 */
export const START_CHAIN_MS = 100;

/** The start's budget: START_CHAIN_MS unless the deployment sets its own (0 turns this off). */
function startChainMs(): number {
  return numberEnv(ENV.startChainMs, START_CHAIN_MS);
}

export function where(message: StepMessage) {
  return {
    nodeId: message.nodeId,
    ...(message.itemIndex === undefined ? {} : { itemIndex: message.itemIndex }),
    attempt: message.attempt,
  };
}

/** A node whose steps may run without a claim. */
export function isPure(state: JobState, nodeId: string): boolean {
  const node = getNode(state, nodeId);
  return (
    node !== undefined &&
    node.runtime !== "fargate" &&
    node.forEach === undefined &&
    nodeKind(node.type)?.pure === true &&
    stepTimeoutSeconds(node) <= PURE_UNCLAIMED_MAX_SECONDS
  );
}

/** One pure step run in memory: when it was claimed, its outcome, and when it ended. */
export interface PureLink {
  message: StepMessage;
  claimedAt: Date;
  outcome: StepOutcome;
  endedAt: Date;
}

/** Whether the step named by `message` is open for an unclaimed run on `state`. */
function openFor(state: JobState, message: StepMessage, now: Date): boolean {
  const step = state.steps[message.nodeId];
  return (
    !isTerminalJob(state.status) &&
    step !== undefined &&
    step.status === "queued" &&
    step.attempt === message.attempt &&
    (step.notBefore === undefined || Date.parse(step.notBefore) <= now.getTime() + 1000)
  );
}

/** `a` then `b`, taken as one decision on one commit (b was decided on a's state). */
function merged(a: Decision | undefined, b: Decision): Decision {
  return a === undefined ? b : combined(a, b);
}

export interface ChainOptions {
  /** The runners this process has: the worker's every one, a job's start only the pure ones. */
  runners: RunnerOf;
  /** The next step of the chain, from the decision that recorded the last one (undefined: the chain ends). */
  next: (decision: Decision) => Extract<Command, { type: "run" }> | undefined;
  /** Wall time the chain may take; it always runs its first step. */
  budgetMs: number;
  /**
   * Each step's run is cut at this many ms: a step that ran out of it is left queued, as if never run
   * (its own timeout was not what stopped it).
   */
  capMs?: number;
  decide?: DecideOptions;
}

/** A run that stopped at the chain's cap rather than at its own limit: its outcome says nothing. */
function cutShort(state: JobState, nodeId: string, outcome: StepOutcome, capMs: number | undefined): boolean {
  return (
    capMs !== undefined &&
    !outcome.ok &&
    outcome.error.code === "CODE_TIMEOUT" &&
    capMs < stepTimeoutSeconds(getNode(state, nodeId)) * 1000
  );
}

/**
 * Runs the chain of pure steps that starts with the queued step `first` names, in memory on `state`: each
 * link is the engine's claim, the run, and the engine's decision on its outcome. Nothing is written.
 */
export async function runLinks(
  state: JobState,
  first: StepMessage,
  options: ChainOptions,
): Promise<{ links: PureLink[]; last?: Decision }> {
  const started = Date.now();
  const links: PureLink[] = [];
  let last: Decision | undefined;
  let message: StepMessage | undefined = first;
  while (message !== undefined) {
    const claimedAt = new Date();
    if (!openFor(state, message, claimedAt)) break;
    const claim = await decide(
      state,
      { type: "claim", ...where(message), leaseSeconds: leaseSecondsFor(state, message.nodeId) },
      claimedAt,
      options.decide,
    );
    if (claim.changedSteps.length === 0) break;
    const outcome = await attemptStep(
      options.runners,
      claim.state,
      message.nodeId,
      undefined,
      message.attempt,
      options.capMs,
    );
    if (cutShort(state, message.nodeId, outcome, options.capMs)) break;
    const link: PureLink = { message, claimedAt, outcome, endedAt: new Date() };
    links.push(link);
    last = await decide(claim.state, outcomeEvent(where(message), outcome), link.endedAt, options.decide);
    state = last.state;
    message = undefined;
    if (Date.now() - started >= options.budgetMs) break;
    const next = options.next(last);
    if (next !== undefined && isPure(state, next.nodeId)) message = stepMessageFor(state, next);
  }
  return { links, ...(last === undefined ? {} : { last }) };
}

/**
 * Applies the chain's links in order to `state`, each as the engine's claim then its result: the engine stays
 * the only writer of step state. Stops at the first link whose step is no longer open (recorded, superseded,
 * cancelled): that link and the ones after it were decided on a past that did not happen, and are dropped.
 */
export async function foldLinks(
  state: JobState,
  links: PureLink[],
  options?: DecideOptions,
): Promise<{ decision?: Decision; applied: number }> {
  let decision: Decision | undefined;
  let applied = 0;
  for (const link of links) {
    const current = decision?.state ?? state;
    if (!openFor(current, link.message, link.claimedAt)) break;
    const leaseSeconds = leaseSecondsFor(current, link.message.nodeId);
    const claim = await decide(
      current,
      { type: "claim", ...where(link.message), leaseSeconds },
      link.claimedAt,
      options,
    );
    if (claim.changedSteps.length === 0) break;
    const result = await decide(
      claim.state,
      outcomeEvent(where(link.message), link.outcome),
      link.endedAt,
      options,
    );
    keepLogs(result, link.message.nodeId, link.outcome);
    decision = merged(
      decision === undefined
        ? undefined
        : { ...decision, commands: decision.commands.filter((c) => !ranBy(link, c)) },
      merged(claim, result),
    );
    applied++;
  }
  return { ...(decision === undefined ? {} : { decision }), applied };
}

/** The link's own run command was what started it: it ran here, so it is not carried out. */
function ranBy(link: PureLink, command: Command): boolean {
  return command.type === "run" && command.nodeId === link.message.nodeId && command.itemIndex === undefined;
}

/** A ready pure step that a job's start may run itself: node-level, due now. */
function startable(decision: Decision): Extract<Command, { type: "run" }> | undefined {
  return decision.commands.find(
    (c): c is Extract<Command, { type: "run" }> =>
      c.type === "run" &&
      c.itemIndex === undefined &&
      c.delaySeconds === 0 &&
      isPure(decision.state, c.nodeId),
  );
}

/**
 * The start of a job runs its first pure steps itself, for at most START_CHAIN_MS, before the job is first
 * written: the decision it returns is `start` followed by those steps' claims and results, and `ran` names
 * the attempts, so the timeline shows each step's queued, running and final moves. A job of cheap code
 * steps is then written once, already finished. Nothing here is written, so a crash loses nothing: the job
 * does not exist yet.
 */
export async function runAtStart(
  start: Decision,
  options: DecideOptions,
  runners: RunnerOf = pureRunner,
): Promise<{ decision: Decision; ran: [string, number][] }> {
  const budgetMs = startChainMs();
  const first = budgetMs > 0 ? startable(start) : undefined;
  if (first === undefined) return { decision: start, ran: [] };
  if (!sandboxWarm()) {
    // A cold sandbox costs a thread start, more than the chain's whole budget: this job goes to a worker,
    // and the next ones started here find the sandbox up.
    warmSandbox().catch((error: unknown) => logger.warn("Sandbox warm-up failed", { error }));
    return { decision: start, ran: [] };
  }
  let links: PureLink[];
  try {
    ({ links } = await runLinks(start.state, stepMessageFor(start.state, first), {
      runners,
      next: startable,
      budgetMs,
      capMs: budgetMs,
      decide: options,
    }));
  } catch (error) {
    // A platform failure here (the sandbox would not start) costs the job nothing: its steps go to a worker.
    logger.warn("Steps at the job's start failed; they go to the workers", { error: error as Error });
    return { decision: start, ran: [] };
  }
  if (links.length === 0) return { decision: start, ran: [] };
  const folded = await foldLinks(start.state, links, options);
  if (folded.decision === undefined) return { decision: start, ran: [] };
  const kept = links[0] as PureLink;
  return {
    decision: combined(start, folded.decision, (c) => ranBy(kept, c)),
    ran: links.slice(0, folded.applied).map((link) => [link.message.nodeId, link.message.attempt]),
  };
}
