import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { QUEUES, STEP_QUEUES, stepQueueFor } from "#events/queues";
import { StepMessage } from "#events/steps";
import type { JobState } from "#shared/engine/types";
import { stepMessageFor } from "#shared/jobs/effects";
import { sendStepMessages } from "#shared/queues";

const sqs = mockClient(SQSClient);
const URLS = {
  STEPS_HIGH_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/steps-high",
  STEPS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/steps",
  STEPS_LOW_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/steps-low",
};

beforeAll(() => Object.assign(process.env, URLS));
afterAll(() => {
  for (const name of Object.keys(URLS)) delete process.env[name];
  sqs.restore();
});
beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
});

const message = (tenantId: string, nodeId: string, priority?: "high" | "normal" | "low"): StepMessage => ({
  v: 1,
  tenantId,
  jobId: `j_${nodeId}`,
  nodeId,
  attempt: 1,
  ...(priority === undefined ? {} : { priority }),
});

describe("step priority", () => {
  it("maps each priority to its own queue, and a message without one to the normal queue", () => {
    expect(stepQueueFor("high").name).toBe("steps-high");
    expect(stepQueueFor("normal").name).toBe("steps");
    expect(stepQueueFor("low").name).toBe("steps-low");
    expect(stepQueueFor(undefined)).toBe(STEP_QUEUES.normal);
    expect(new Set(QUEUES.map((queue) => queue.dlq.name)).size).toBe(3);
  });

  it("sends each step to its priority's queue with the tenant as message group", async () => {
    await sendStepMessages([
      { message: message("t1", "a", "low"), delaySeconds: 0 },
      { message: message("t2", "b", "high"), delaySeconds: 2.2 },
      { message: message("t1", "c"), delaySeconds: 0 },
      { message: message("t3", "d", "low"), delaySeconds: 0 },
    ]);
    const sends = sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
    expect(sends.map((input) => input.QueueUrl)).toEqual([
      URLS.STEPS_LOW_QUEUE_URL,
      URLS.STEPS_HIGH_QUEUE_URL,
      URLS.STEPS_QUEUE_URL,
    ]);
    const [low, high, normal] = sends;
    expect(
      low?.Entries?.map((entry) => [JSON.parse(entry.MessageBody ?? "").nodeId, entry.MessageGroupId]),
    ).toEqual([
      ["a", "t1"],
      ["d", "t3"],
    ]);
    expect(high?.Entries?.[0]).toMatchObject({ MessageGroupId: "t2", DelaySeconds: 3 });
    expect(normal?.Entries?.[0]?.MessageGroupId).toBe("t1");
  });

  it("throws when SQS refuses an entry, so the caller's retry covers it", async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: "0", Code: "InternalError", SenderFault: false }],
    });
    await expect(
      sendStepMessages([{ message: message("t1", "a", "high"), delaySeconds: 0 }]),
    ).rejects.toThrow(/SQS refused 1 step message/);
  });

  it("puts the job's priority on its step messages, so a re-send keeps it", () => {
    const state = { tenantId: "t1", jobId: "j1", priority: "high" } as JobState;
    const run = { type: "run", nodeId: "a", attempt: 2, delaySeconds: 0 } as const;
    expect(StepMessage.parse(stepMessageFor(state, run))).toEqual({
      v: 1,
      tenantId: "t1",
      jobId: "j1",
      nodeId: "a",
      attempt: 2,
      priority: "high",
    });
    // A normal job's messages stay as they were before priorities, which every consumer reads as normal.
    expect(stepMessageFor({ ...state, priority: "normal" }, run)).not.toHaveProperty("priority");
    expect(stepMessageFor({ tenantId: "t1", jobId: "j1" } as JobState, run)).not.toHaveProperty("priority");
  });
});
