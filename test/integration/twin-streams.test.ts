import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTwin, type Twin } from "#infra/local/twin";

interface Delivery {
  pk: string;
  value: number;
  sequence: string;
}

/** Every record the fanout function was given, in delivery order, and those it acknowledged. */
const delivered: Delivery[] = [];
const acknowledged: Delivery[] = [];
const invocations: DynamoDBRecord[][] = [];
/** Sequence numbers to fail once, and values to fail always. */
const failOnce = new Set<number>();
const failAlways = new Set<number>();

function describeRecord(record: DynamoDBRecord): Delivery {
  return {
    pk: record.dynamodb?.NewImage?.pk?.S ?? "",
    value: Number(record.dynamodb?.NewImage?.v?.N),
    sequence: record.dynamodb?.SequenceNumber ?? "",
  };
}

async function fanout(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  invocations.push(event.Records);
  const records = event.Records.map(describeRecord);
  delivered.push(...records);
  const failing = records.findIndex((record) => {
    if (failAlways.has(record.value)) return true;
    if (failOnce.has(record.value)) {
      failOnce.delete(record.value);
      return true;
    }
    return false;
  });
  const ok = failing === -1 ? records : records.slice(0, failing);
  acknowledged.push(...ok);
  // A handler reports only the first failure; the event source resumes from it.
  return { batchItemFailures: failing === -1 ? [] : [{ itemIdentifier: records[failing]?.sequence ?? "" }] };
}

let twin: Twin;
let dataDir: string;
let dynamodb: DynamoDBClient;

const item = (pk: string, sk: string, value: number) => ({
  TableName: twin.tableName,
  Item: { pk: { S: pk }, sk: { S: sk }, v: { N: String(value) } },
});

/** Writes the same key N times as new items (put, then delete), so each write is an INSERT. */
async function insertRepeatedly(pk: string, values: number[]): Promise<void> {
  for (const value of values) {
    await dynamodb.send(new PutItemCommand(item(pk, "A#JOB", value)));
    await dynamodb.send(
      new DeleteItemCommand({ TableName: twin.tableName, Key: { pk: { S: pk }, sk: { S: "A#JOB" } } }),
    );
  }
}

const of = (list: Delivery[], pk: string) =>
  list.filter((record) => record.pk === pk).map((record) => record.value);

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "twin-streams-"));
  twin = await startTwin({
    port: 0,
    dataDir,
    quiet: true,
    bootstrap: false,
    loadEntries: false,
    web: false,
    functions: {
      fanout,
      worker: async () => ({ batchItemFailures: [] }),
      dlq: async () => ({ batchItemFailures: [] }),
    },
  });
  dynamodb = new DynamoDBClient({});
});

afterAll(async () => {
  dynamodb?.destroy();
  await twin?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("DynamoDB stream event source", () => {
  it("delivers the writes to one item in the order they were made", async () => {
    const values = Array.from({ length: 25 }, (_, index) => index + 1);
    await insertRepeatedly("ORDER#1", values);

    await vi.waitFor(() => expect(of(delivered, "ORDER#1")).toHaveLength(values.length), { timeout: 15_000 });
    expect(of(delivered, "ORDER#1")).toEqual(values);
  });

  it("applies the manifest's filter: INSERTs and MODIFYs of job items (sort keys starting with A#JOB)", async () => {
    await dynamodb.send(new PutItemCommand(item("FILTER#1", "J#0001", 1)));
    await dynamodb.send(new PutItemCommand(item("FILTER#1", "A#JOB", 2)));
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: twin.tableName,
        Key: { pk: { S: "FILTER#1" }, sk: { S: "A#JOB" } },
        UpdateExpression: "SET v = :v",
        ExpressionAttributeValues: { ":v": { N: "3" } },
      }),
    );
    await dynamodb.send(
      new DeleteItemCommand({
        TableName: twin.tableName,
        Key: { pk: { S: "FILTER#1" }, sk: { S: "A#JOB" } },
      }),
    );
    await dynamodb.send(new PutItemCommand(item("FILTER#1", "E#0004", 4)));
    await dynamodb.send(new PutItemCommand(item("FILTER#1", "A#JOB", 5)));

    await vi.waitFor(() => expect(of(delivered, "FILTER#1")).toContain(5), { timeout: 15_000 });
    expect(of(delivered, "FILTER#1")).toEqual([2, 3, 5]);
    const record = invocations.flat().find((entry) => entry.dynamodb?.NewImage?.pk?.S === "FILTER#1");
    expect(record).toMatchObject({
      eventName: "INSERT",
      eventSource: "aws:dynamodb",
      awsRegion: "us-east-1",
      eventVersion: "1.1",
      eventSourceARN: expect.stringMatching(
        /^arn:aws:dynamodb:us-east-1:000000000000:table\/switchboard\/stream\//,
      ),
      dynamodb: {
        Keys: { pk: { S: "FILTER#1" }, sk: { S: "A#JOB" } },
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    });
    expect(typeof record?.dynamodb?.ApproximateCreationDateTime).toBe("number");
  });

  it("retries from the first failed record and keeps the order", async () => {
    failOnce.add(105);
    const values = Array.from({ length: 10 }, (_, index) => 101 + index);
    await insertRepeatedly("RETRY#1", values);

    await vi.waitFor(() => expect(of(acknowledged, "RETRY#1")).toHaveLength(values.length), {
      timeout: 15_000,
    });
    expect(of(acknowledged, "RETRY#1")).toEqual(values);
    expect(of(delivered, "RETRY#1").filter((value) => value === 105)).toHaveLength(2);
  });

  it("skips a failing batch after retryAttempts retries and goes on with later records", async () => {
    failAlways.add(203);
    await insertRepeatedly("POISON#1", [201, 202, 203]);

    // One attempt and the manifest's three retries, then the batch is dropped (AWS: to the on-failure destination).
    await vi.waitFor(
      () => expect(of(delivered, "POISON#1").filter((value) => value === 203)).toHaveLength(4),
      {
        timeout: 15_000,
      },
    );
    await insertRepeatedly("POISON#1", [204]);

    await vi.waitFor(() => expect(of(acknowledged, "POISON#1")).toContain(204), { timeout: 15_000 });
    expect(of(acknowledged, "POISON#1")).toEqual([201, 202, 204]);
    expect(of(delivered, "POISON#1").filter((value) => value === 203)).toHaveLength(4);
  });
});
