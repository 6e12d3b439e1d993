import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { epochSeconds, tableName } from "../db.ts";

/** Audit entries are kept for a year. */
export const AUDIT_TTL_SECONDS = 365 * 24 * 3600;

export interface AuditEntry {
  tenantId: string;
  actorId: string;
  actorType: "user" | "apiKey" | "anonymous";
  action: string;
  resource: string;
  requestId: string;
  sourceIp: string;
  status: number;
  at: string;
}

export const auditKeys = {
  pk: (tenantId: string) => `T#${tenantId}#AUDIT`,
  sk: (entry: Pick<AuditEntry, "at" | "requestId">) => `${entry.at}#${entry.requestId}`,
  byActor: (tenantId: string, actorId: string) => `T#${tenantId}#AUDIT#A#${actorId}`,
};

export async function recordAudit(entry: AuditEntry): Promise<void> {
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: auditKeys.pk(entry.tenantId),
        sk: auditKeys.sk(entry),
        type: "audit",
        ...entry,
        gsi1pk: auditKeys.byActor(entry.tenantId, entry.actorId),
        gsi1sk: auditKeys.sk(entry),
        ttl: epochSeconds(new Date(entry.at)) + AUDIT_TTL_SECONDS,
      },
    }),
  );
}
