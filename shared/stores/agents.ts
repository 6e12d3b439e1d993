import { GetCommand, type GetCommandOutput, QueryCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { type Agent, type CreateAgentRequest, DEFAULT_AGENT_TURNS } from "#events/agents";
import { dynamo } from "../aws.ts";
import { nowIso, tableName } from "../db.ts";
import { conflict, isTransactionConflict, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { createdByFilter, fillPage, startKey } from "./page.ts";

/**
 * Agents live in their tenant's agents partition: one item per agent (`A#<id>`) and one name claim
 * (`N#<name>`) that makes names unique per tenant. Both change together in one transaction.
 */
export const agentKeys = {
  pk: (tenantId: string) => `T#${tenantId}#AGENTS`,
  agent: (id: string) => `A#${id}`,
  name: (name: string) => `N#${name.toLowerCase()}`,
};

const AGENT_FIELDS = [
  "id",
  "name",
  "description",
  "provider",
  "model",
  "systemPrompt",
  "tools",
  "baseUrl",
  "secret",
  "maxTurns",
  "temperature",
  "maxTokens",
  "script",
  "createdAt",
  "updatedAt",
  "createdBy",
] as const;

function toAgent(item: Record<string, unknown>): Agent {
  const agent: Record<string, unknown> = {};
  for (const field of AGENT_FIELDS) if (item[field] !== undefined) agent[field] = item[field];
  return agent as Agent;
}

function agentItem(tenantId: string, agent: Agent): Record<string, unknown> {
  return { pk: agentKeys.pk(tenantId), sk: agentKeys.agent(agent.id), type: "agent", tenantId, ...agent };
}

function nameClaim(tenantId: string, agent: Pick<Agent, "id" | "name">): Record<string, unknown> {
  return {
    pk: agentKeys.pk(tenantId),
    sk: agentKeys.name(agent.name),
    type: "agentName",
    tenantId,
    agentId: agent.id,
  };
}

function nameTaken(name: string) {
  return conflict(`An agent named ${name} already exists`);
}

export async function createAgent(
  tenantId: string,
  body: CreateAgentRequest,
  createdBy: string,
): Promise<Agent> {
  const now = nowIso();
  const agent: Agent = {
    ...body,
    id: newId("ag_"),
    maxTurns: body.maxTurns ?? DEFAULT_AGENT_TURNS,
    createdAt: now,
    updatedAt: now,
    createdBy,
  };
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: nameClaim(tenantId, agent),
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: tableName(),
              Item: agentItem(tenantId, agent),
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error)) throw nameTaken(body.name);
    throw error;
  }
  return agent;
}

async function get(tenantId: string, sk: string): Promise<GetCommandOutput["Item"]> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: { pk: agentKeys.pk(tenantId), sk } }),
  );
  return Item;
}

export async function getAgent(tenantId: string, id: string): Promise<Agent | undefined> {
  const item = await get(tenantId, agentKeys.agent(id));
  return item === undefined ? undefined : toAgent(item);
}

/** A workflow node names its agent by id or by name; an id wins when both could match. */
export async function resolveAgent(tenantId: string, nameOrId: string): Promise<Agent | undefined> {
  if (nameOrId.startsWith("ag_")) {
    const byId = await getAgent(tenantId, nameOrId);
    if (byId) return byId;
  }
  const claim = await get(tenantId, agentKeys.name(nameOrId));
  return claim === undefined ? undefined : getAgent(tenantId, String(claim.agentId));
}

export async function agentExists(tenantId: string, nameOrId: string): Promise<boolean> {
  return (await resolveAgent(tenantId, nameOrId)) !== undefined;
}

export async function listAgents(
  tenantId: string,
  options: { cursor?: string; limit?: number; createdBy?: string } = {},
): Promise<{ items: Agent[]; cursor?: string }> {
  const pk = agentKeys.pk(tenantId);
  const page = await fillPage(
    {
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": pk, ":prefix": "A#" },
    },
    {
      limit: options.limit ?? 50,
      start: startKey(options.cursor, "pk", pk),
      filter: createdByFilter(options.createdBy),
      keyAttributes: ["pk", "sk"],
    },
  );
  return { ...page, items: page.items.map(toAgent) };
}

/** Every agent name and id of a tenant, for checking a workflow's references in one read. */
export async function agentNames(tenantId: string): Promise<Set<string>> {
  const names = new Set<string>();
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": agentKeys.pk(tenantId), ":prefix": "A#" },
        ProjectionExpression: "id, #name",
        ExpressionAttributeNames: { "#name": "name" },
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      names.add(String(item.id));
      names.add(String(item.name).toLowerCase());
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return names;
}

/** Replaces an agent's definition; its id, creation time and author stay. A new name is claimed atomically. */
export async function updateAgent(
  tenantId: string,
  nameOrId: string,
  body: CreateAgentRequest,
): Promise<Agent> {
  const current = await resolveAgent(tenantId, nameOrId);
  if (current === undefined) throw notFound("Agent", nameOrId);
  const agent: Agent = {
    ...body,
    id: current.id,
    maxTurns: body.maxTurns ?? DEFAULT_AGENT_TURNS,
    createdAt: current.createdAt,
    createdBy: current.createdBy,
    updatedAt: nowIso(),
  };
  const renamed = agentKeys.name(current.name) !== agentKeys.name(agent.name);
  const pk = agentKeys.pk(tenantId);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: agentItem(tenantId, agent),
              // Guards against a concurrent update or delete in between the read and this write.
              ConditionExpression: "attribute_exists(pk) AND updatedAt = :seen",
              ExpressionAttributeValues: { ":seen": current.updatedAt },
            },
          },
          ...(renamed
            ? [
                { Delete: { TableName: tableName(), Key: { pk, sk: agentKeys.name(current.name) } } },
                {
                  Put: {
                    TableName: tableName(),
                    Item: nameClaim(tenantId, agent),
                    ConditionExpression: "attribute_not_exists(pk)",
                  },
                },
              ]
            : []),
        ],
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error)) {
      if (renamed && (await resolveAgent(tenantId, agent.name))?.id !== agent.id) throw nameTaken(agent.name);
      throw conflict(`Agent ${current.name} was changed by someone else; read it again and retry`);
    }
    throw error;
  }
  return agent;
}

export async function deleteAgent(tenantId: string, nameOrId: string): Promise<Agent> {
  const current = await resolveAgent(tenantId, nameOrId);
  if (current === undefined) throw notFound("Agent", nameOrId);
  const pk = agentKeys.pk(tenantId);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Delete: {
              TableName: tableName(),
              Key: { pk, sk: agentKeys.agent(current.id) },
              ConditionExpression: "attribute_exists(pk)",
            },
          },
          { Delete: { TableName: tableName(), Key: { pk, sk: agentKeys.name(current.name) } } },
        ],
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error)) throw notFound("Agent", nameOrId);
    throw error;
  }
  return current;
}
