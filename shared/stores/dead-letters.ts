import { DeleteCommand, PutCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { encodeCursor, epochSeconds, tableName } from "../db.ts";
import { startKey } from "./page.ts";

/** As long as SQS keeps a message in the DLQ: past that, a redrive could not have found it either. */
export const DEAD_LETTER_TTL_SECONDS = 14 * 24 * 3600;

/**
 * The DLQ consumer takes each dead letter off the queue once it has failed the step, so the queue alone
 * cannot tell operators what was dead-lettered. Each one is recorded here instead. The list is ops-wide (a
 * platform admin sees every tenant), so the records share one global partition, `DLQ#`, sorted by
 * `<receivedAt>#<messageId>`; gsi1 gives each tenant its own view of the same items.
 */
export const deadLetterKeys = {
  pk: () => "DLQ#",
  sk: (receivedAt: string, messageId: string) => `${receivedAt}#${messageId}`,
  byTenant: (tenantId: string) => `T#${tenantId}#DLQ`,
};

export interface DeadLetter {
  messageId: string;
  tenantId: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  attempt: number;
  reason: string;
  /** When the DLQ consumer first received it (stable across redeliveries of the same dead letter). */
  receivedAt: string;
  /** When the step was failed and this record written. */
  deadLetteredAt: string;
  receiveCount: number;
  /** The SQS message body, as it was sent. */
  body: string;
}

export interface DeadLetterRecord extends DeadLetter {
  /** Key of the record, for deleting it once its job has been re-run. */
  key: { pk: string; sk: string };
}

/**
 * Writes the record. A second delivery of the same dead letter has the same key and overwrites it, so the
 * DLQ consumer can be retried freely.
 */
export async function recordDeadLetter(letter: DeadLetter): Promise<void> {
  const sk = deadLetterKeys.sk(letter.receivedAt, letter.messageId);
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: deadLetterKeys.pk(),
        sk,
        type: "deadLetter",
        ...letter,
        gsi1pk: deadLetterKeys.byTenant(letter.tenantId),
        gsi1sk: sk,
        ttl: epochSeconds(new Date(letter.deadLetteredAt)) + DEAD_LETTER_TTL_SECONDS,
      },
    }),
  );
}

function toRecord(item: Record<string, unknown>): DeadLetterRecord {
  return {
    key: { pk: String(item.pk), sk: String(item.sk) },
    messageId: String(item.messageId),
    tenantId: String(item.tenantId),
    jobId: String(item.jobId),
    nodeId: String(item.nodeId),
    ...(item.itemIndex === undefined ? {} : { itemIndex: Number(item.itemIndex) }),
    attempt: Number(item.attempt),
    reason: String(item.reason),
    receivedAt: String(item.receivedAt),
    deadLetteredAt: String(item.deadLetteredAt),
    receiveCount: Number(item.receiveCount ?? 0),
    body: String(item.body ?? ""),
  };
}

/** Everyone's dead letters (`tenantId` undefined) or one tenant's. */
export interface DeadLetterScope {
  tenantId?: string;
}

function query(scope: DeadLetterScope): QueryCommandInput {
  return scope.tenantId === undefined
    ? {
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": deadLetterKeys.pk() },
      }
    : {
        TableName: tableName(),
        IndexName: "gsi1",
        KeyConditionExpression: "gsi1pk = :pk",
        ExpressionAttributeValues: { ":pk": deadLetterKeys.byTenant(scope.tenantId) },
      };
}

/** Newest first. The cursor is bound to the scope it came from, so a tenant cannot page into another's. */
export async function listDeadLetters(
  scope: DeadLetterScope,
  options: { limit: number; cursor?: string },
): Promise<{ items: DeadLetterRecord[]; cursor?: string }> {
  const base = query(scope);
  const partitionAttribute = scope.tenantId === undefined ? "pk" : "gsi1pk";
  const partition = (base.ExpressionAttributeValues as Record<string, string>)[":pk"] as string;
  const page = await dynamo().send(
    new QueryCommand({
      ...base,
      ScanIndexForward: false,
      Limit: options.limit,
      ExclusiveStartKey: startKey(options.cursor, partitionAttribute, partition),
    }),
  );
  const cursor = encodeCursor(page.LastEvaluatedKey);
  return { items: (page.Items ?? []).map(toRecord), ...(cursor === undefined ? {} : { cursor }) };
}

/** Every record in scope, for a redrive. Bounded: a redrive larger than this is done in several calls. */
export async function allDeadLetters(scope: DeadLetterScope, max = 1000): Promise<DeadLetterRecord[]> {
  const items: DeadLetterRecord[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({ ...query(scope), ExclusiveStartKey, Limit: Math.min(500, max - items.length) }),
    );
    items.push(...(page.Items ?? []).map(toRecord));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined && items.length < max);
  return items;
}

/** How many records are in scope, counted up to `max` (the status page needs a number, not a census). */
export async function countDeadLetters(scope: DeadLetterScope, max = 1000): Promise<number> {
  let count = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({ ...query(scope), Select: "COUNT", ExclusiveStartKey }),
    );
    count += page.Count ?? 0;
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined && count < max);
  return Math.min(count, max);
}

export async function deleteDeadLetter(record: DeadLetterRecord): Promise<void> {
  await dynamo().send(new DeleteCommand({ TableName: tableName(), Key: record.key }));
}
