import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { tableName } from "../db.ts";
import { keys } from "../keys.ts";

/**
 * Who created a job, workflow or schedule, read with a projection of that one attribute: the owner-only
 * access check runs before a route does its own (larger) reads. Undefined when the item does not exist.
 * A deleted workflow keeps its creator: its versions stay readable, and the route decides about deletion.
 */
export async function creatorOf(
  kind: "job" | "workflow" | "schedule",
  tenantId: string,
  id: string,
): Promise<string | undefined> {
  const Key =
    kind === "job"
      ? keys.job(tenantId, id)
      : kind === "workflow"
        ? keys.workflow(tenantId, id)
        : keys.schedule(tenantId, id);
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key,
      ProjectionExpression: "createdBy",
      ConsistentRead: true,
    }),
  );
  return typeof Item?.createdBy === "string" ? Item.createdBy : undefined;
}
