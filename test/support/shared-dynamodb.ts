/**
 * Global setup of the suites that start the platform: one DynamoDB Local for the whole run, started
 * without `-sharedDb`, so each platform gets its own database by using its own access key. A JVM start is
 * most of a twin's start on two cores; sharing it leaves each file only the twin's own start. Its tables are
 * in memory: nothing of a test run is kept, and each write costs the JVM less.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "#infra/local/dynamodb-local";
import { createLogger } from "#infra/local/log";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = await mkdtemp(join(tmpdir(), "switchboard-shared-dynamodb-"));
  const dynamo = await startDynamoDbLocal({
    dataDir,
    sharedDb: false,
    inMemory: true,
    log: createLogger({ quiet: true }),
  });
  await dynamo.ready;
  project.provide("sharedDynamoDb", dynamo.endpoint);
  return async () => {
    await dynamo.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    sharedDynamoDb: string;
  }
}
