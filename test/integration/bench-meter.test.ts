import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "#infra/local/dynamodb-local";
import { createLogger } from "#infra/local/log";
import { Meter } from "../bench/meter.ts";

const TABLE = "bench-meter";
let dataDir: string;
let dynamodbLocal: DynamoDbLocal;
let doc: DynamoDBDocumentClient;
let meter: Meter;
const saved: Record<string, string | undefined> = {};

const units = () => {
  const entry = meter.snapshot().dynamodb["event-source"];
  return { tableWru: entry?.tableWru ?? 0, indexWru: entry?.indexWru ?? 0, rru: entry?.rru ?? 0 };
};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "bench-meter-"));
  dynamodbLocal = await startDynamoDbLocal({ dataDir, log: createLogger({ quiet: true }) });
  await dynamodbLocal.ready;
  const env = {
    AWS_ENDPOINT_URL_DYNAMODB: dynamodbLocal.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
  };
  for (const [name, value] of Object.entries(env)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  const raw = new DynamoDBClient({});
  await raw.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: ["pk", "sk", "gpk", "gsk"].map((name) => ({
        AttributeName: name,
        AttributeType: "S",
      })),
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: "byStatus",
          KeySchema: [
            { AttributeName: "gpk", KeyType: "HASH" },
            { AttributeName: "gsk", KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["status"] },
        },
      ],
    }),
  );
  await waitUntilTableExists({ client: raw, maxWaitTime: 30 }, { TableName: TABLE });
  doc = DynamoDBDocumentClient.from(raw);
  meter = new Meter().install();
  meter.active = true;
}, 120_000);

afterAll(async () => {
  meter?.uninstall();
  doc?.destroy();
  await dynamodbLocal?.stop();
  await rm(dataDir, { recursive: true, force: true });
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

beforeEach(() => meter.reset());

describe("the bench meter prices the requests a DocumentClient sends", () => {
  it("bills a 14-item transaction of small items as 28 WRU", async () => {
    await doc.send(
      new TransactWriteCommand({
        TransactItems: Array.from({ length: 14 }, (_, i) => ({
          Put: { TableName: TABLE, Item: { pk: "TX", sk: `item-${i}`, body: "x".repeat(800) } },
        })),
      }),
    );
    expect(units()).toEqual({ tableWru: 28, indexWru: 0, rru: 0 });
  });

  it("bills the index when an update changes a projected attribute, and not otherwise", async () => {
    await doc.send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: "J", sk: "1", gpk: "T#1", gsk: "a", status: "queued", note: "n" },
      }),
    );
    expect(units()).toEqual({ tableWru: 1, indexWru: 1, rru: 0 });
    meter.reset();
    await doc.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: "J", sk: "1" },
        UpdateExpression: "SET #s = :s",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: { ":s": "running" },
      }),
    );
    expect(units()).toEqual({ tableWru: 1, indexWru: 1, rru: 0 });
    meter.reset();
    await doc.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: "J", sk: "1" },
        UpdateExpression: "SET note = :n",
        ExpressionAttributeValues: { ":n": "changed" },
      }),
    );
    expect(units()).toEqual({ tableWru: 1, indexWru: 0, rru: 0 });
    meter.reset();
    await doc.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: "J", sk: "1" },
        UpdateExpression: "SET gsk = :k",
        ExpressionAttributeValues: { ":k": "b" },
      }),
    );
    expect(units()).toEqual({ tableWru: 1, indexWru: 2, rru: 0 });
  });

  it("bills a failed conditional write and keeps the error", async () => {
    await doc.send(new PutCommand({ TableName: TABLE, Item: { pk: "C", sk: "1", body: "x".repeat(1500) } }));
    meter.reset();
    await expect(
      doc.send(
        new PutCommand({
          TableName: TABLE,
          Item: { pk: "C", sk: "1" },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    ).rejects.toThrow(/conditional/i);
    expect(units()).toEqual({ tableWru: 2, indexWru: 0, rru: 0 });
  });

  it("bills reads by the full item size, whatever the projection, and queries by the page's total", async () => {
    for (let i = 0; i < 3; i++) {
      await doc.send(
        new PutCommand({ TableName: TABLE, Item: { pk: "R", sk: String(i), body: "x".repeat(2500) } }),
      );
    }
    meter.reset();
    const got = await doc.send(
      new GetCommand({
        TableName: TABLE,
        Key: { pk: "R", sk: "0" },
        ProjectionExpression: "pk",
        ConsistentRead: true,
      }),
    );
    expect(got.Item).toEqual({ pk: "R" });
    // 2.5 KB → one 4 KB block, strongly consistent.
    expect(units().rru).toBe(1);
    meter.reset();
    const page = await doc.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: "pk = :p",
        FilterExpression: "body = :none",
        ExpressionAttributeValues: { ":p": "R", ":none": "nothing" },
      }),
    );
    expect(page.Items).toEqual([]);
    // Three 2.5 KB items evaluated before the filter: 7.5 KB → 2 blocks, eventually consistent.
    expect(units().rru).toBe(1);
  });
});
