import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import {
  DEFAULT_TENANT_SETTINGS,
  type PutTenantSettingsRequest,
  type TenantSettings,
} from "#events/tenant-settings";
import { dynamo } from "../aws.ts";
import { nowIso, tableName } from "../db.ts";
import { keys } from "../keys.ts";

function toSettings(item: Record<string, unknown> | undefined): TenantSettings {
  if (item === undefined) return { ...DEFAULT_TENANT_SETTINGS };
  return {
    resourceAccess: item.resourceAccess === "owner" ? "owner" : "tenant",
    ...(typeof item.updatedAt === "string" ? { updatedAt: item.updatedAt } : {}),
    ...(typeof item.updatedBy === "string" ? { updatedBy: item.updatedBy } : {}),
  };
}

/** Strongly consistent: a tenant that just switched to owner-only access must not serve one more stale read. */
export async function getTenantSettings(tenantId: string): Promise<TenantSettings> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.tenantSettings(tenantId), ConsistentRead: true }),
  );
  return toSettings(Item);
}

/** Sets only the fields given, so two admins changing different settings do not undo each other. */
export async function putTenantSettings(
  tenantId: string,
  change: PutTenantSettingsRequest,
  updatedBy: string,
  now = new Date(),
): Promise<TenantSettings> {
  const names: Record<string, string> = { "#type": "type" };
  const values: Record<string, unknown> = {
    ":type": "tenantSettings",
    ":tenantId": tenantId,
    ":at": nowIso(now),
    ":by": updatedBy,
  };
  const sets = ["#type = :type", "tenantId = :tenantId", "updatedAt = :at", "updatedBy = :by"];
  for (const [field, value] of Object.entries(change)) {
    if (value === undefined) continue;
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  const { Attributes } = await dynamo().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.tenantSettings(tenantId),
      UpdateExpression: `SET ${sets.join(", ")}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: "ALL_NEW",
    }),
  );
  return toSettings(Attributes);
}
