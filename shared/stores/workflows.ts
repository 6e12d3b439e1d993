import { GetCommand, QueryCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { WorkflowDefinition } from "#events/workflow";
import type { Workflow, WorkflowSummary, WorkflowVersion } from "#events/workflows-api";
import { dynamo } from "../aws.ts";
import { encodeCursor, nowIso, tableName } from "../db.ts";
import { badRequest, conflict, isTransactionConflict, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { keys } from "../keys.ts";
import { createdByFilter, newestFirst, startKey } from "./page.ts";

/**
 * Workflows and their versions. The head item (`WF#<id>`) names the latest version; each version
 * (`WF#<id>#V#<n>`) is written once, conditionally, and never changed. The head is on the tenant's gsi1 list
 * until the workflow is deleted, so a list is one query and deleted workflows drop out of it.
 */

const MAX_UPDATE_ATTEMPTS = 8;

interface HeadItem {
  id: string;
  name: string;
  description?: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  deleted?: boolean;
}

function toSummary(item: Record<string, unknown>): WorkflowSummary {
  return {
    id: String(item.id),
    name: String(item.name),
    ...(typeof item.description === "string" ? { description: item.description } : {}),
    version: Number(item.version),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    createdBy: String(item.createdBy),
  };
}

function toVersion(item: Record<string, unknown>): WorkflowVersion {
  return {
    workflowId: String(item.workflowId),
    version: Number(item.version),
    name: String(item.name),
    createdAt: String(item.createdAt),
    createdBy: String(item.createdBy),
    definition: item.definition as WorkflowDefinition,
  };
}

function versionItem(
  tenantId: string,
  workflowId: string,
  version: number,
  definition: WorkflowDefinition,
  by: string,
  at: string,
) {
  return {
    ...keys.workflowVersion(tenantId, workflowId, version),
    type: "workflowVersion",
    tenantId,
    workflowId,
    version,
    name: definition.name,
    definition,
    createdAt: at,
    createdBy: by,
  };
}

async function getHead(tenantId: string, workflowId: string): Promise<HeadItem | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: keys.workflow(tenantId, workflowId),
      ConsistentRead: true,
    }),
  );
  if (Item === undefined || Item.type !== "workflow" || Item.deleted === true) return undefined;
  return Item as unknown as HeadItem;
}

export async function createWorkflow(
  tenantId: string,
  definition: WorkflowDefinition,
  createdBy: string,
  now = new Date(),
): Promise<Workflow> {
  const id = newId("wf_", now.getTime());
  const at = nowIso(now);
  const head = {
    ...keys.workflow(tenantId, id),
    type: "workflow",
    tenantId,
    id,
    name: definition.name,
    ...(definition.description === undefined ? {} : { description: definition.description }),
    version: 1,
    createdAt: at,
    updatedAt: at,
    createdBy,
    gsi1pk: keys.workflowsIndex(tenantId),
    gsi1sk: id,
  };
  await dynamo()
    .send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: tableName(), Item: head, ConditionExpression: "attribute_not_exists(pk)" } },
          {
            Put: {
              TableName: tableName(),
              Item: versionItem(tenantId, id, 1, definition, createdBy, at),
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          nameClaim(tenantId, definition.name, id),
        ],
      }),
    )
    .catch((error: unknown) => {
      if (nameTaken(error, 2)) throw nameConflict(definition.name);
      throw error;
    });
  return { ...toSummary(head), definition };
}

/** Puts the name item for a workflow; fails when another workflow holds the name. */
function nameClaim(tenantId: string, name: string, workflowId: string) {
  return {
    Put: {
      TableName: tableName(),
      Item: { ...keys.workflowName(tenantId, name), type: "workflowName", tenantId, workflowId, name },
      ConditionExpression: "attribute_not_exists(pk) OR workflowId = :self",
      ExpressionAttributeValues: { ":self": workflowId },
    },
  };
}

/**
 * Frees a name the workflow holds. Workflows stored before names were unique may hold none, or share it with
 * one that does; then there is nothing of theirs to free.
 */
async function nameRelease(tenantId: string, name: string, workflowId: string) {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.workflowName(tenantId, name), ConsistentRead: true }),
  );
  if (Item?.workflowId !== workflowId) return [];
  return [
    {
      Delete: {
        TableName: tableName(),
        Key: keys.workflowName(tenantId, name),
        ConditionExpression: "workflowId = :self",
        ExpressionAttributeValues: { ":self": workflowId },
      },
    },
  ];
}

function nameTaken(error: unknown, index: number): boolean {
  if (!(error instanceof Error) || error.name !== "TransactionCanceledException") return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons[index]?.Code === "ConditionalCheckFailed";
}

const nameConflict = (name: string) => conflict(`A workflow named ${name} already exists`);

/**
 * Writes the next version and moves the head to it in one transaction, conditioned on the head still naming
 * the version it was read at: two concurrent updates both land, one after the other, never on one number.
 */
export async function updateWorkflow(
  tenantId: string,
  workflowId: string,
  definition: WorkflowDefinition,
  updatedBy: string,
  now = new Date(),
): Promise<Workflow> {
  for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
    const head = await getHead(tenantId, workflowId);
    if (head === undefined) throw notFound("Workflow", workflowId);
    const version = head.version + 1;
    const at = nowIso(now);
    const renamed = head.name.toLowerCase() !== definition.name.toLowerCase();
    try {
      await dynamo().send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: tableName(),
                Key: keys.workflow(tenantId, workflowId),
                UpdateExpression: `SET #version = :next, #name = :name, updatedAt = :at${
                  definition.description === undefined
                    ? " REMOVE description"
                    : ", description = :description"
                }`,
                ConditionExpression: "#version = :current AND attribute_not_exists(deleted)",
                ExpressionAttributeNames: { "#version": "version", "#name": "name" },
                ExpressionAttributeValues: {
                  ":next": version,
                  ":current": head.version,
                  ":name": definition.name,
                  ":at": at,
                  ...(definition.description === undefined ? {} : { ":description": definition.description }),
                },
              },
            },
            {
              Put: {
                TableName: tableName(),
                Item: versionItem(tenantId, workflowId, version, definition, updatedBy, at),
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            // A rename claims the new name and frees the old one in the same transaction.
            ...(renamed
              ? [
                  nameClaim(tenantId, definition.name, workflowId),
                  ...(await nameRelease(tenantId, head.name, workflowId)),
                ]
              : []),
          ],
        }),
      );
      return {
        ...toSummary({
          ...head,
          version,
          name: definition.name,
          description: definition.description,
          updatedAt: at,
        }),
        definition,
      };
    } catch (error) {
      if (renamed && nameTaken(error, 2)) throw nameConflict(definition.name);
      if (!isTransactionConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt * Math.random()));
    }
  }
  throw conflict(`Workflow ${workflowId} is being changed by others; try again`);
}

/** Soft delete: the head stays (jobs still name the workflow and its versions) but leaves every list. */
export async function deleteWorkflow(tenantId: string, workflowId: string, now = new Date()): Promise<void> {
  const head = await getHead(tenantId, workflowId);
  if (head === undefined) throw notFound("Workflow", workflowId);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: tableName(),
              Key: keys.workflow(tenantId, workflowId),
              UpdateExpression: "SET deleted = :true, deletedAt = :at, updatedAt = :at REMOVE gsi1pk, gsi1sk",
              ConditionExpression:
                "attribute_exists(pk) AND #type = :workflow AND attribute_not_exists(deleted)",
              ExpressionAttributeNames: { "#type": "type" },
              ExpressionAttributeValues: { ":true": true, ":at": nowIso(now), ":workflow": "workflow" },
            },
          },
          // The name is free again once its workflow is gone.
          ...(await nameRelease(tenantId, head.name, workflowId)),
        ],
      }),
    );
  } catch (error) {
    if (nameTaken(error, 0)) throw notFound("Workflow", workflowId);
    throw error;
  }
}

export async function getWorkflowVersion(
  tenantId: string,
  workflowId: string,
  version: number,
): Promise<WorkflowVersion | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.workflowVersion(tenantId, workflowId, version) }),
  );
  return Item === undefined ? undefined : toVersion(Item);
}

/** The latest version with its definition; undefined when missing or deleted. */
export async function getWorkflow(tenantId: string, workflowId: string): Promise<Workflow | undefined> {
  const head = await getHead(tenantId, workflowId);
  if (head === undefined) return undefined;
  const version = await getWorkflowVersion(tenantId, workflowId, head.version);
  if (version === undefined) return undefined;
  return { ...toSummary(head as unknown as Record<string, unknown>), definition: version.definition };
}

/** Whether the workflow exists and is not deleted (versions of a deleted workflow stay readable to jobs). */
export async function workflowExists(tenantId: string, workflowId: string): Promise<boolean> {
  return (await getHead(tenantId, workflowId)) !== undefined;
}

/** Newest first. */
export async function listWorkflows(
  tenantId: string,
  options: { cursor?: string; limit: number; createdBy?: string },
): Promise<{ items: WorkflowSummary[]; cursor?: string }> {
  return newestFirst({
    index: "gsi1",
    partition: keys.workflowsIndex(tenantId),
    cursor: options.cursor,
    limit: options.limit,
    map: toSummary,
    filter: createdByFilter(options.createdBy),
  });
}

/** Newest version first. */
/** The cursor guard, with a check that the key is one of this workflow's versions. */
function versionsStart(cursor: string | undefined, pk: string, prefix: string) {
  const key = startKey(cursor, "pk", pk);
  if (key !== undefined && !(typeof key.sk === "string" && key.sk.startsWith(prefix))) {
    throw badRequest("cursor is not valid");
  }
  return key;
}

export async function listWorkflowVersions(
  tenantId: string,
  workflowId: string,
  options: { cursor?: string; limit: number },
): Promise<{ items: WorkflowVersion[]; cursor?: string }> {
  const { pk } = keys.workflow(tenantId, workflowId);
  const prefix = keys.workflowVersionsPrefix(workflowId);
  const page = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": pk, ":prefix": prefix },
      ScanIndexForward: false,
      Limit: options.limit,
      ExclusiveStartKey: versionsStart(options.cursor, pk, prefix),
    }),
  );
  const cursor = encodeCursor(page.LastEvaluatedKey);
  return { items: (page.Items ?? []).map(toVersion), ...(cursor === undefined ? {} : { cursor }) };
}
