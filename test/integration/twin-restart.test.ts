import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTwin, type Twin, type TwinOptions } from "#infra/local/twin";

const fanoutKeys: string[] = [];
let dataDir: string;
let twin: Twin | undefined;

const options = (): TwinOptions => ({
  port: 0,
  dataDir,
  quiet: true,
  bootstrap: false,
  loadEntries: false,
  web: false,
  functions: {
    fanout: async (event: DynamoDBStreamEvent) => {
      fanoutKeys.push(...event.Records.map((record) => record.dynamodb?.NewImage?.pk?.S ?? ""));
      return { batchItemFailures: [] };
    },
  },
});

async function jwtSecretValue(): Promise<string | undefined> {
  const client = new SecretsManagerClient({});
  try {
    return (await client.send(new GetSecretValueCommand({ SecretId: twin?.env.JWT_SECRET_ID }))).SecretString;
  } finally {
    client.destroy();
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "twin-restart-"));
});

afterAll(async () => {
  await twin?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("a restarted twin", () => {
  it("keeps the table's data and the generated secret, and does not replay the old stream", async () => {
    twin = await startTwin(options());
    const first = new DynamoDBClient({});
    await first.send(
      new PutItemCommand({
        TableName: twin.tableName,
        Item: { pk: { S: "KEEP#1" }, sk: { S: "A#JOB" }, note: { S: "still here" } },
      }),
    );
    await vi.waitFor(() => expect(fanoutKeys).toContain("KEEP#1"), { timeout: 10_000 });
    const secretBefore = await jwtSecretValue();
    first.destroy();
    await twin.stop();

    fanoutKeys.length = 0;
    twin = await startTwin(options());
    const second = new DynamoDBClient({});
    const { Item } = await second.send(
      new GetItemCommand({ TableName: twin.tableName, Key: { pk: { S: "KEEP#1" }, sk: { S: "A#JOB" } } }),
    );
    await second.send(
      new PutItemCommand({ TableName: twin.tableName, Item: { pk: { S: "AFTER#1" }, sk: { S: "A#JOB" } } }),
    );
    await vi.waitFor(() => expect(fanoutKeys).toContain("AFTER#1"), { timeout: 10_000 });
    second.destroy();

    expect(Item?.note?.S).toBe("still here");
    expect(await jwtSecretValue()).toBe(secretBefore);
    expect(fanoutKeys).toEqual(["AFTER#1"]);
  });
});
