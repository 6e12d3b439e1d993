import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { manifest } from "#infra/manifest";

export interface TableState {
  /** True when this start created the table, so its stream holds nothing from before. */
  created: boolean;
  streamArn: string;
}

async function describe(client: DynamoDBClient, tableName: string) {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** Creates the one table as the stack does (keys, GSIs, on-demand, stream, TTL) unless it is there already. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<TableState> {
  const spec = manifest.table;
  let table = await describe(client, tableName);
  const created = table === undefined;
  if (!table) {
    const keyNames = new Set<string>([spec.partitionKey, spec.sortKey]);
    for (const index of spec.indexes) {
      keyNames.add(index.partitionKey);
      keyNames.add(index.sortKey);
    }
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [...keyNames].map((name) => ({ AttributeName: name, AttributeType: "S" })),
        KeySchema: [
          { AttributeName: spec.partitionKey, KeyType: "HASH" },
          { AttributeName: spec.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: spec.indexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: "HASH" },
            { AttributeName: index.sortKey, KeyType: "RANGE" },
          ],
          Projection:
            index.projection.type === "INCLUDE"
              ? { ProjectionType: "INCLUDE", NonKeyAttributes: [...index.projection.include] }
              : { ProjectionType: index.projection.type },
        })),
        StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
      }),
    );
    await waitUntilTableExists(
      { client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
      { TableName: tableName },
    );
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true },
      }),
    );
    table = await describe(client, tableName);
  }
  const streamArn = table?.LatestStreamArn;
  if (!streamArn)
    throw new Error(`Table ${tableName} has no stream; delete the data directory's dynamodb/ to recreate it`);
  return { created, streamArn };
}
