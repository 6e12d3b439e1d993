import type { CreateSessionRequest, Session, SessionWithMessages } from "#events/collections";
import { numberEnv } from "../config.ts";
import { notFound, validationFailed } from "../errors.ts";
import { newId } from "../ids.ts";
import type { ChatMessage } from "../providers/types.ts";
import { resolveAgent } from "../stores/agents.ts";
import {
  allTurns,
  appendTurn,
  getSession,
  listSessions,
  putSession,
  recentTurns,
  deleteSession as removeSession,
  type TurnMessage,
} from "../stores/sessions.ts";

/**
 * Conversations that carry on across jobs. An agent node with `session` is given the session's history
 * before its prompt, and its turn (the prompt, every assistant and tool message, the answer) is appended
 * when the step succeeds.
 *
 * Trimming rule: history is bounded by SESSION_HISTORY_TOKENS (default 8,000 estimated tokens, about four
 * characters each). Whole turns are kept newest first while they fit; older turns are dropped, never cut
 * in the middle, so a tool call always keeps its result. The agent's system prompt is not part of the
 * history and is always sent.
 */

export const SESSION_HISTORY_TOKENS_ENV = "SESSION_HISTORY_TOKENS";
export const DEFAULT_SESSION_HISTORY_TOKENS = 8_000;
/** A turn item must stay under DynamoDB's 400 KB; longer contents are cut, tool results first. */
const MAX_TURN_BYTES = 300 * 1024;
const MAX_STORED_CONTENT_CHARS = 16_000;

export const historyTokenBudget = () => numberEnv(SESSION_HISTORY_TOKENS_ENV, DEFAULT_SESSION_HISTORY_TOKENS);

const estimateTokens = (messages: TurnMessage[]) =>
  Math.ceil(
    messages.reduce(
      (sum, message) =>
        sum + message.content.length + (message.toolCalls ? JSON.stringify(message.toolCalls).length : 0),
      0,
    ) / 4,
  );

export async function createSession(
  tenantId: string,
  body: CreateSessionRequest,
  createdBy: string,
): Promise<Session> {
  const agent = await resolveAgent(tenantId, body.agent);
  if (agent === undefined)
    throw validationFailed(`There is no agent named ${body.agent}`, [
      { path: "agent", message: "no such agent", code: "custom" },
    ]);
  const now = new Date().toISOString();
  const session: Session = {
    id: newId("ses_"),
    agent: agent.name,
    agentId: agent.id,
    ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
    turns: 0,
    createdAt: now,
    updatedAt: now,
    createdBy,
  };
  await putSession(tenantId, session);
  return session;
}

export async function sessionWithMessages(tenantId: string, id: string): Promise<SessionWithMessages> {
  const session = await getSession(tenantId, id);
  if (session === undefined) throw notFound("Session", id);
  const turns = await allTurns(tenantId, id);
  return {
    ...session,
    messages: turns.flatMap((turn) =>
      turn.messages.map((message) => ({ ...message, jobId: turn.jobId, nodeId: turn.nodeId, at: turn.at })),
    ),
  };
}

export async function deleteSession(tenantId: string, id: string): Promise<void> {
  if (!(await removeSession(tenantId, id))) throw notFound("Session", id);
}

export { getSession, listSessions };

function toChat(message: TurnMessage): ChatMessage {
  if (message.role === "tool") {
    return {
      role: "tool",
      toolCallId: message.toolCallId ?? "",
      name: message.name ?? "",
      content: message.content,
      ...(message.isError ? { isError: true } : {}),
    };
  }
  if (message.role === "assistant") {
    return {
      role: "assistant",
      content: message.content,
      ...(message.toolCalls && message.toolCalls.length > 0 ? { toolCalls: message.toolCalls } : {}),
    };
  }
  return { role: "user", content: message.content };
}

function fromChat(message: ChatMessage): TurnMessage {
  if (message.role === "tool") {
    return {
      role: "tool",
      toolCallId: message.toolCallId,
      name: message.name,
      content: message.content,
      ...(message.isError ? { isError: true } : {}),
    };
  }
  if (message.role === "assistant") {
    return {
      role: "assistant",
      content: message.content,
      ...(message.toolCalls && message.toolCalls.length > 0 ? { toolCalls: message.toolCalls } : {}),
    };
  }
  return { role: "user", content: message.content };
}

/** The history a step continues from, trimmed to the budget (see the rule above). */
export async function loadHistory(tenantId: string, sessionId: string): Promise<ChatMessage[]> {
  const turns = await recentTurns(tenantId, sessionId, historyTokenBudget());
  return turns.flatMap((turn) => turn.messages.map(toChat));
}

function clipped(messages: TurnMessage[]): TurnMessage[] {
  const cut = (text: string, max: number) =>
    text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters cut]`;
  let out = messages.map((m) => ({ ...m, content: cut(m.content, MAX_STORED_CONTENT_CHARS) }));
  for (const max of [2_000, 200]) {
    if (Buffer.byteLength(JSON.stringify(out), "utf8") <= MAX_TURN_BYTES) return out;
    out = out.map((m) => (m.role === "tool" ? { ...m, content: cut(m.content, max) } : m));
  }
  if (Buffer.byteLength(JSON.stringify(out), "utf8") <= MAX_TURN_BYTES) return out;
  // Still too large: keep the prompt and the answer only.
  return [out[0], out.at(-1)]
    .filter((m): m is TurnMessage => m !== undefined)
    .map((m) => ({ ...m, content: cut(m.content, 100_000) }));
}

/**
 * Appends a step's turn once: the claim is keyed by the step (`jobId:nodeId:item`), so a duplicate delivery,
 * or a later attempt of a step whose earlier attempt already appended, adds nothing.
 */
export async function recordTurn(options: {
  tenantId: string;
  sessionId: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  messages: ChatMessage[];
}): Promise<"appended" | "duplicate" | "gone"> {
  const messages = clipped(options.messages.map(fromChat));
  const stepKey = `${options.jobId}:${options.nodeId}:${options.itemIndex ?? "-"}`;
  return appendTurn(options.tenantId, options.sessionId, stepKey, {
    jobId: options.jobId,
    nodeId: options.nodeId,
    at: new Date().toISOString(),
    tokens: estimateTokens(messages),
    messages,
  });
}
