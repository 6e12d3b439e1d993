import type { Agent, AgentOutput, ToolCallRecord } from "#events/agents";
import type { StepOutcome } from "#shared/engine/nodes/kind";
import { adaptiveRouting, type ReviewSpec } from "../calibration/calibrate.ts";
import { calibrationOf } from "../calibration/service.ts";
import { admitAgentStep, throttledOutcome } from "../limits/gate.ts";
import { logger } from "../observability.ts";
import {
  type ChatMessage,
  createProvider,
  type ModelProvider,
  ProviderError,
  redact,
  type ToolSpec,
} from "../providers/index.ts";
import { getSession, loadHistory, recordTurn } from "../sessions/service.ts";
import { resolveAgent } from "../stores/agents.ts";
import { readSecret } from "../stores/secrets.ts";
import { budgetProblem, getBudget, monthUsage, recordUsage } from "../stores/usage.ts";
import { createToolContext, invokeTool, resolveTools, type StepToolContext } from "../tools/registry.ts";
import { type ToolDefinition, ToolError } from "../tools/types.ts";
import { costOf } from "./prices.ts";
import { TokenStream } from "./token-stream.ts";

/**
 * The agent loop: the model answers or asks for tools; the tools run and their results (or errors) go
 * back; repeat until the model answers without tool calls or `maxTurns` model calls have been made.
 */

/** What goes back to the model from one tool call, at most. */
const MAX_TOOL_RESULT_CHARS = 16_000;
/** What the step's output keeps of one tool call's result: the output is stored in the table. */
const MAX_RECORDED_RESULT_CHARS = 8_000;
/** Time kept back from the step's limit to close the token stream and record usage. */
const DEADLINE_MARGIN_MS = 1_000;

const CONFIDENCE_LINE =
  /(?:^|\n)[ \t]*(?:\*\*)?confidence(?:\*\*)?[ \t]*[:=][ \t]*(\d+(?:\.\d+)?)[ \t]*(%?)[ \t]*\.?[ \t]*$/i;

/**
 * Real models have no notion of confidence, so an agent may be told to end its answer with a line
 * `CONFIDENCE: 0.85` (or `85%`). That line is taken off the text and becomes `confidence`; without it
 * confidence stays undefined (and a `review` treats the answer as needing a person).
 */
export function parseConfidence(text: string): { text: string; confidence?: number } {
  const match = CONFIDENCE_LINE.exec(text.trimEnd());
  if (match === null) return { text };
  let value = Number(match[1]);
  if (match[2] === "%") value /= 100;
  if (!Number.isFinite(value) || value < 0 || value > 1) return { text };
  return { text: text.trimEnd().slice(0, match.index).trimEnd(), confidence: value };
}

/** The node's resolved input as the user's message: a string, `{prompt, …context}`, or any JSON. */
export function promptOf(input: unknown): string {
  if (typeof input === "string") return input === "" ? "(no input)" : input;
  if (input === undefined || input === null) return "(no input)";
  if (
    typeof input === "object" &&
    !Array.isArray(input) &&
    typeof (input as { prompt?: unknown }).prompt === "string"
  ) {
    const { prompt, ...rest } = input as { prompt: string };
    return Object.keys(rest).length === 0
      ? prompt
      : `${prompt}\n\nContext:\n${JSON.stringify(rest, null, 2)}`;
  }
  return JSON.stringify(input, null, 2);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters cut]`;
}

function recorded(result: unknown): unknown {
  const json = JSON.stringify(result ?? null);
  return json.length <= MAX_RECORDED_RESULT_CHARS
    ? result
    : { truncated: true, preview: json.slice(0, MAX_RECORDED_RESULT_CHARS) };
}

function fail(code: string, message: string, retryable: boolean): StepOutcome {
  return { ok: false, error: { code, message }, retryable };
}

export interface AgentStepParams {
  tenantId: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  attempt: number;
  /** The node's `agent`: a name or an id. */
  agent: string;
  /** The node's resolved `session`: the conversation this step continues. */
  session?: string;
  input: unknown;
  timeoutMs: number;
  /** The node's review: an adaptive one makes the runner attach the thresholds to apply (`routing`). */
  review?: ReviewSpec;
  /** The job's workflow name, so usage can be reported per workflow. */
  workflow?: string;
}

interface LoopState {
  text: string;
  confidence?: number;
  toolCalls: ToolCallRecord[];
  usage: { inputTokens: number; outputTokens: number };
  turns: number;
  stopReason: string;
  /** What this step added to the conversation: the prompt, assistant and tool turns, and the answer. */
  transcript: ChatMessage[];
}

export async function runAgentStep(params: AgentStepParams): Promise<StepOutcome> {
  // Created first, so the subscriber lookup runs alongside the reads below and is done by the first token.
  const stream = new TokenStream({
    tenantId: params.tenantId,
    jobId: params.jobId,
    nodeId: params.nodeId,
    ...(params.itemIndex === undefined ? {} : { itemIndex: params.itemIndex }),
  });
  try {
    return await runAgent(params, stream);
  } finally {
    await stream.close();
  }
}

async function runAgent(params: AgentStepParams, stream: TokenStream): Promise<StepOutcome> {
  const started = Date.now();
  const agent = await resolveAgent(params.tenantId, params.agent);
  if (agent === undefined) return fail("UNKNOWN_AGENT", `There is no agent named ${params.agent}`, false);

  const [budget, used] = await Promise.all([getBudget(params.tenantId), monthUsage(params.tenantId)]);
  const spent = budgetProblem(budget, used);
  if (spent) return fail("BUDGET_EXCEEDED", spent, false);

  let history: ChatMessage[] = [];
  if (params.session !== undefined) {
    const session = await getSession(params.tenantId, params.session);
    if (session === undefined)
      return fail("SESSION_NOT_FOUND", `There is no session ${params.session}`, false);
    if (session.agentId !== agent.id)
      return fail(
        "SESSION_AGENT_MISMATCH",
        `Session ${params.session} belongs to agent ${session.agent}, not ${agent.name}`,
        false,
      );
    history = await loadHistory(params.tenantId, params.session);
  }

  const tools = new Map<string, ToolDefinition>();
  for (const name of agent.tools ?? []) {
    const resolved = await resolveTools(params.tenantId, name);
    if (resolved === undefined)
      return fail("UNKNOWN_TOOL", `Agent ${agent.name} lists tool ${name}, which does not exist`, false);
    for (const tool of resolved) {
      tools.set(tool.name, tool);
      // A scripted rule may call an MCP tool by its reference rather than its model-facing name.
      if (tool.reference !== undefined) tools.set(tool.reference, tool);
    }
  }

  let secret: string | undefined;
  if (agent.secret !== undefined) {
    secret = await readSecret(params.tenantId, agent.secret);
    if (secret === undefined)
      return fail(
        "SECRET_NOT_FOUND",
        `Agent ${agent.name} uses secret ${agent.secret}, which does not exist`,
        false,
      );
  }
  const scrub = (text: string) => redact(text, [secret]);

  // Flow control: a full tokens-per-minute window sends the step back to the queue, a job budget it would
  // pass fails it; an admitted step settles its reservation with its actual usage below.
  const admission = await admitAgentStep({
    tenantId: params.tenantId,
    jobId: params.jobId,
    agent,
    inputs: [
      agent.systemPrompt,
      ...history.map((message) => message.content),
      promptOf(params.input),
      JSON.stringify([...tools.values()].map((tool) => [tool.name, tool.description, tool.parameters])),
    ],
  });
  if ("outcome" in admission) return admission.outcome;
  const { ticket } = admission;

  const deadline = started + Math.max(1_000, params.timeoutMs - DEADLINE_MARGIN_MS);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("agent step timed out")), deadline - Date.now());
  const context = createToolContext({
    tenantId: params.tenantId,
    jobId: params.jobId,
    nodeId: params.nodeId,
    ...(params.itemIndex === undefined ? {} : { itemIndex: params.itemIndex }),
    attempt: params.attempt,
    deadline,
    signal: controller.signal,
  });
  if (secret !== undefined) context.handled(secret);
  const state: LoopState = {
    text: "",
    toolCalls: [],
    usage: { inputTokens: 0, outputTokens: 0 },
    turns: 0,
    stopReason: "end_turn",
    transcript: [],
  };

  let outcome: StepOutcome;
  try {
    const provider = await createProvider({
      provider: agent.provider,
      model: agent.model,
      ...(agent.baseUrl === undefined ? {} : { baseUrl: agent.baseUrl }),
      ...(agent.script === undefined ? {} : { script: agent.script }),
      ...(secret === undefined ? {} : { secret }),
      tenantId: params.tenantId,
    });
    outcome = await loop(
      agent,
      provider,
      tools,
      params,
      history,
      state,
      context,
      stream,
      controller.signal,
      (extra) =>
        budgetProblem(budget, {
          ...used,
          inputTokens: used.inputTokens + extra.inputTokens,
          outputTokens: used.outputTokens + extra.outputTokens,
          costUsd: used.costUsd + costOf(agent.provider, agent.model, extra),
        }) ?? ticket.overJobBudget(extra),
    );
    const overJob = outcome.ok ? ticket.overJobBudget(state.usage) : undefined;
    if (overJob !== undefined) outcome = fail("BUDGET_EXCEEDED", overJob, false);
  } catch (error) {
    if (error instanceof ProviderError && error.status === 429) {
      outcome = throttledOutcome(agent.provider, error.retryAfterSeconds);
    } else if (error instanceof ProviderError) {
      outcome = fail(error.code, scrub(error.message), error.retryable);
    } else if (controller.signal.aborted) {
      outcome = fail(
        "AGENT_TIMEOUT",
        `Agent ${agent.name} did not finish within ${params.timeoutMs} ms`,
        true,
      );
    } else {
      throw error;
    }
  } finally {
    clearTimeout(timer);
    // The last tokens go out before the step's result is recorded, so clients see them first.
    await stream.close();
  }

  const costUsd = costOf(agent.provider, agent.model, state.usage);
  await ticket.settle(state.usage);
  if (state.usage.inputTokens + state.usage.outputTokens > 0) {
    await recordUsage({
      tenantId: params.tenantId,
      jobId: params.jobId,
      provider: agent.provider,
      model: agent.model,
      ...state.usage,
      costUsd,
      agent: agent.name,
      ...(params.workflow === undefined ? {} : { workflow: params.workflow }),
    }).catch((error: Error) => {
      // The step's own result matters more than the counters; the miss is logged for reconciliation.
      logger.error("Could not record agent usage", {
        jobId: params.jobId,
        nodeId: params.nodeId,
        error: error.name,
        ...state.usage,
      });
    });
  }
  logger.info("Agent step finished", {
    jobId: params.jobId,
    nodeId: params.nodeId,
    agent: agent.name,
    provider: agent.provider,
    model: agent.model,
    ok: outcome.ok,
    turns: state.turns,
    toolCalls: state.toolCalls.length,
    ...state.usage,
    costUsd,
    streamedTokens: stream.stats.tokens,
    streamedMessages: stream.stats.messages,
    durationMs: Date.now() - started,
  });
  if (!outcome.ok) return outcome;
  if (params.session !== undefined) {
    // The step succeeds only with its turn kept: a failed append fails the attempt, to be retried.
    try {
      const appended = await recordTurn({
        tenantId: params.tenantId,
        sessionId: params.session,
        jobId: params.jobId,
        nodeId: params.nodeId,
        ...(params.itemIndex === undefined ? {} : { itemIndex: params.itemIndex }),
        messages: state.transcript.map((message) => ({ ...message, content: scrub(message.content) })),
      });
      if (appended !== "appended")
        logger.warn("Session turn not appended", { session: params.session, reason: appended });
    } catch (error) {
      logger.error("Could not append the session turn", {
        session: params.session,
        error: (error as Error).name,
      });
      return fail("SESSION_APPEND_FAILED", `Could not append the turn to session ${params.session}`, true);
    }
  }
  const output: AgentOutput = {
    text: state.text,
    ...(state.confidence === undefined ? {} : { confidence: state.confidence }),
    toolCalls: state.toolCalls,
    usage: { ...state.usage, costUsd },
    model: agent.model,
    provider: agent.provider,
    turns: state.turns,
    stopReason: state.stopReason,
  };
  if (params.review?.adaptive === true) {
    const calibration = await calibrationOf(params.tenantId, agent.id);
    output.routing = adaptiveRouting(params.review, calibration.recommendedAutoApproveAt, calibration.reason);
  }
  return { ok: true, output };
}

async function loop(
  agent: Agent,
  provider: ModelProvider,
  tools: Map<string, ToolDefinition>,
  params: AgentStepParams,
  history: ChatMessage[],
  state: LoopState,
  context: StepToolContext,
  stream: TokenStream,
  signal: AbortSignal,
  overBudget: (usage: { inputTokens: number; outputTokens: number }) => string | undefined,
): Promise<StepOutcome> {
  const messages: ChatMessage[] = [...history, { role: "user", content: promptOf(params.input) }];
  const specs: ToolSpec[] = [...new Set(tools.values())].map((tool) => ({
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
  }));
  for (let turn = 1; turn <= agent.maxTurns; turn++) {
    const result = await provider.converse({
      ...(agent.systemPrompt === undefined ? {} : { system: agent.systemPrompt }),
      messages,
      ...(specs.length === 0 ? {} : { tools: specs }),
      ...(agent.maxTokens === undefined ? {} : { maxTokens: agent.maxTokens }),
      ...(agent.temperature === undefined ? {} : { temperature: agent.temperature }),
      onToken: (text) => stream.push(text),
      signal,
    });
    state.turns = turn;
    state.usage.inputTokens += result.usage.inputTokens;
    state.usage.outputTokens += result.usage.outputTokens;
    state.stopReason = result.stopReason;
    if (result.toolCalls.length === 0) {
      const parsed = parseConfidence(result.text);
      state.text = parsed.text;
      const confidence = result.confidence ?? parsed.confidence;
      if (confidence !== undefined) state.confidence = confidence;
      state.transcript = [...messages.slice(history.length), { role: "assistant", content: parsed.text }];
      return { ok: true, output: undefined };
    }
    state.text = result.text;
    if (result.confidence !== undefined) state.confidence = result.confidence;
    messages.push({ role: "assistant", content: result.text, toolCalls: result.toolCalls });

    const budget = overBudget(state.usage);
    if (budget) return fail("BUDGET_EXCEEDED", budget, false);
    if (turn === agent.maxTurns) break;

    for (const [index, call] of result.toolCalls.entries()) {
      const record: ToolCallRecord = { name: call.name, arguments: call.arguments };
      let content: string;
      let isError = false;
      const tool = tools.get(call.name);
      try {
        if (tool === undefined)
          throw new ToolError("UNKNOWN_TOOL", `Tool ${call.name} is not available to this agent`);
        // One idempotency key per side effect: the step's key plus the call's place in the loop.
        const callContext = context.withIdempotencyKey(`${context.idempotencyKey}:${turn}.${index + 1}`);
        const value = await invokeTool(tool, call.arguments, callContext);
        record.result = recorded(value);
        content = clip(JSON.stringify(value ?? null), MAX_TOOL_RESULT_CHARS);
      } catch (error) {
        if (signal.aborted) throw error;
        const failure =
          error instanceof ToolError
            ? { code: error.code, message: error.message }
            : { code: "TOOL_ERROR", message: `Tool ${call.name} failed unexpectedly` };
        if (!(error instanceof ToolError)) {
          logger.error("Tool failed with a platform error; the model is told it failed", {
            tool: call.name,
            error: (error as Error).name,
          });
        }
        record.error = failure;
        content = JSON.stringify({ error: failure });
        isError = true;
      }
      state.toolCalls.push(record);
      messages.push({
        role: "tool",
        toolCallId: call.id,
        name: call.name,
        content,
        ...(isError ? { isError } : {}),
      });
    }
  }
  return fail(
    "AGENT_MAX_TURNS",
    `Agent ${agent.name} was still calling tools after ${agent.maxTurns} turns (maxTurns); raise maxTurns or simplify the task`,
    false,
  );
}
