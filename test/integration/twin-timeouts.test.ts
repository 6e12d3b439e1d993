/**
 * Lambda stops an invocation at its function's timeout; the twin abandons it there too. A queue batch
 * whose invocation timed out is not deleted, even when the handler finishes later, so SQS hands it out
 * again after its visibility timeout, as the event source mapping would.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTwin, type Twin } from "#infra/local/twin";

const WORKER_TIMEOUT_SECONDS = 1;
const received: { body: string; receiveCount: string; at: number }[] = [];
let lateFinishes = 0;

async function worker(event: SQSEvent) {
  for (const record of event.Records) {
    received.push({
      body: record.body,
      receiveCount: record.attributes.ApproximateReceiveCount,
      at: Date.now(),
    });
  }
  if (received.length === 1) {
    // Past the timeout, then "succeeds": Lambda would have stopped it, so this answer must not count.
    await new Promise((done) => setTimeout(done, (WORKER_TIMEOUT_SECONDS + 1) * 1000));
    lateFinishes++;
  }
  return { batchItemFailures: [] };
}

let twin: Twin;
let dataDir: string;
let sqs: SQSClient;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "twin-timeouts-"));
  twin = await startTwin({
    port: 0,
    dataDir,
    quiet: true,
    bootstrap: false,
    loadEntries: false,
    web: false,
    functions: {
      worker,
      dlq: async () => ({ batchItemFailures: [] }),
      fanout: async () => ({ batchItemFailures: [] }),
    },
    functionTimeouts: { worker: WORKER_TIMEOUT_SECONDS },
    queueOverrides: { steps: { visibilityTimeoutSeconds: 3 } },
  });
  sqs = new SQSClient({ endpoint: twin.endpoints.sqs });
});

afterAll(async () => {
  sqs?.destroy();
  await twin?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("function timeouts", () => {
  it("abandons an invocation at the function's timeout, ignores its late result, and the message comes back", async () => {
    const queueUrl = twin.queues.steps?.url ?? "";
    const sentAt = Date.now();
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "slow step" }));

    const deadline = Date.now() + 30_000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100));

    expect(received.map((r) => [r.body, r.receiveCount])).toEqual([
      ["slow step", "1"],
      ["slow step", "2"],
    ]);
    // Redelivered by the visibility timeout, not earlier.
    expect((received[1]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(2_500);
    // The abandoned handler did finish in the background, and its "success" deleted nothing.
    expect(lateFinishes).toBe(1);
  });
});
