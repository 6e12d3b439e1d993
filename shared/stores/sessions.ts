import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Session, SessionMessage } from "#events/collections";
import { dynamo } from "../aws.ts";
import { encodeCursor, tableName } from "../db.ts";
import { isTransactionConflict } from "../errors.ts";
import { deletePartition, startKey } from "./page.ts";

/**
 * Sessions: one item per session in the tenant's sessions partition, and the conversation in the session's
 * own partition as one item per turn (`M#<time>#<step>`, so a query reads them in order), each with a claim
 * (`K#<step>`) written in the same transaction, so a step's turn is appended at most once however often the
 * step runs.
 */
export const sessionKeys = {
  pk: (tenantId: string) => `T#${tenantId}#SESSIONS`,
  session: (id: string) => `S#${id}`,
  turnsPk: (tenantId: string, sessionId: string) => `T#${tenantId}#SESSION#${sessionId}`,
  turn: (at: string, stepKey: string) => `M#${at}#${stepKey}`,
  claim: (stepKey: string) => `K#${stepKey}`,
};

/** What one turn holds: the messages the step added (user prompt, assistant and tool turns). */
export type TurnMessage = Omit<SessionMessage, "jobId" | "nodeId" | "at">;

export interface SessionTurn {
  jobId: string;
  nodeId: string;
  at: string;
  /** Estimated tokens of the turn's messages, for trimming history to a budget without reading the text. */
  tokens: number;
  messages: TurnMessage[];
}

const FIELDS = [
  "id",
  "agent",
  "agentId",
  "metadata",
  "turns",
  "createdAt",
  "updatedAt",
  "createdBy",
] as const;

function toSession(item: Record<string, unknown>): Session {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) if (item[field] !== undefined) out[field] = item[field];
  out.turns = Number(item.turns ?? 0);
  return out as Session;
}

function toTurn(item: Record<string, unknown>): SessionTurn {
  return {
    jobId: String(item.jobId),
    nodeId: String(item.nodeId),
    at: String(item.at),
    tokens: Number(item.tokens ?? 0),
    messages: JSON.parse(String(item.messages)) as TurnMessage[],
  };
}

export async function putSession(tenantId: string, session: Session): Promise<void> {
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: sessionKeys.pk(tenantId),
        sk: sessionKeys.session(session.id),
        type: "session",
        tenantId,
        ...session,
      },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
}

export async function getSession(tenantId: string, id: string): Promise<Session | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: sessionKeys.pk(tenantId), sk: sessionKeys.session(id) },
    }),
  );
  return Item === undefined ? undefined : toSession(Item);
}

/** Newest first: ids sort by creation time. */
export async function listSessions(
  tenantId: string,
  options: { cursor?: string; limit?: number } = {},
): Promise<{ items: Session[]; cursor?: string }> {
  const pk = sessionKeys.pk(tenantId);
  const page = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": pk, ":prefix": "S#" },
      ScanIndexForward: false,
      Limit: options.limit ?? 50,
      ExclusiveStartKey: startKey(options.cursor, "pk", pk),
    }),
  );
  const cursor = encodeCursor(page.LastEvaluatedKey);
  return { items: (page.Items ?? []).map(toSession), ...(cursor === undefined ? {} : { cursor }) };
}

/**
 * Appends a step's turn and counts it on the session, in one transaction. `duplicate` when that step's turn
 * is already there; `gone` when the session was deleted.
 */
export async function appendTurn(
  tenantId: string,
  sessionId: string,
  stepKey: string,
  turn: SessionTurn,
): Promise<"appended" | "duplicate" | "gone"> {
  const pk = sessionKeys.turnsPk(tenantId, sessionId);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: { pk, sk: sessionKeys.claim(stepKey), type: "sessionTurnClaim", tenantId, at: turn.at },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: tableName(),
              Item: {
                pk,
                sk: sessionKeys.turn(turn.at, stepKey),
                type: "sessionTurn",
                tenantId,
                jobId: turn.jobId,
                nodeId: turn.nodeId,
                at: turn.at,
                tokens: turn.tokens,
                messages: JSON.stringify(turn.messages),
              },
            },
          },
          {
            Update: {
              TableName: tableName(),
              Key: { pk: sessionKeys.pk(tenantId), sk: sessionKeys.session(sessionId) },
              UpdateExpression: "ADD turns :one SET updatedAt = :now",
              ConditionExpression: "attribute_exists(pk)",
              ExpressionAttributeValues: { ":one": 1, ":now": turn.at },
            },
          },
        ],
      }),
    );
    return "appended";
  } catch (error) {
    if (!isTransactionConflict(error)) throw error;
    const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    if (reasons[0]?.Code === "ConditionalCheckFailed") return "duplicate";
    if (reasons[2]?.Code === "ConditionalCheckFailed") return "gone";
    throw error;
  }
}

/**
 * The newest turns whose estimated tokens fit the budget, oldest first: whole turns only, the oldest
 * dropped first. Reads newest first and stops at the budget, so a long session costs no more to continue.
 */
export async function recentTurns(
  tenantId: string,
  sessionId: string,
  tokenBudget: number,
): Promise<SessionTurn[]> {
  const kept: SessionTurn[] = [];
  let used = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": sessionKeys.turnsPk(tenantId, sessionId), ":prefix": "M#" },
        ScanIndexForward: false,
        Limit: 25,
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const tokens = Number(item.tokens ?? 0);
      if (used + tokens > tokenBudget) return kept.reverse();
      used += tokens;
      kept.push(toTurn(item));
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return kept.reverse();
}

/** Every turn, oldest first, up to `limit`. */
export async function allTurns(tenantId: string, sessionId: string, limit = 1000): Promise<SessionTurn[]> {
  const turns: SessionTurn[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": sessionKeys.turnsPk(tenantId, sessionId), ":prefix": "M#" },
        Limit: Math.min(100, limit - turns.length),
        ExclusiveStartKey,
      }),
    );
    turns.push(...(page.Items ?? []).map(toTurn));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined && turns.length < limit);
  return turns;
}

/** True when there was a session to delete; its turns go with it. */
export async function deleteSession(tenantId: string, id: string): Promise<boolean> {
  const { Attributes } = await dynamo().send(
    new DeleteCommand({
      TableName: tableName(),
      Key: { pk: sessionKeys.pk(tenantId), sk: sessionKeys.session(id) },
      ReturnValues: "ALL_OLD",
    }),
  );
  if (Attributes === undefined) return false;
  await deletePartition(sessionKeys.turnsPk(tenantId, id));
  return true;
}
