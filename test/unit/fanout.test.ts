import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { Context, DynamoDBStreamEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

const ddb = mockClient(DynamoDBDocumentClient);
const sockets = mockClient(ApiGatewayManagementApiClient);
const context = { functionName: "fanout", awsRequestId: "r" } as Context;
const JOB = "j_01hx0000000000000000000000";

let handler: typeof import("#functions/streams/fanout").handler;

/** One commit of a job item as the stream delivers it: its first step claimed, so the job is running. */
function jobRecordEvent(jobId = JOB): DynamoDBStreamEvent {
  const job = (status: string, step: string, version: number, seq: number) => ({
    pk: `T#default#J#${jobId}`,
    sk: "A#JOB",
    type: "job",
    id: jobId,
    tenantId: "default",
    status,
    workflowName: "w",
    createdAt: "2023-11-14T22:13:19.000Z",
    updatedAt: "2023-11-14T22:13:20.000Z",
    createdBy: "u",
    nodes: ["a"],
    steps: { a: { s: step, a: 1 } },
    version,
    seq,
  });
  const image = (item: Record<string, unknown>) => marshall(item) as never;
  return {
    Records: [
      {
        eventID: "1",
        eventName: "MODIFY",
        eventSource: "aws:dynamodb",
        dynamodb: {
          Keys: image({ pk: `T#default#J#${jobId}`, sk: "A#JOB" }),
          OldImage: image(job("queued", "queued", 1, 2)),
          NewImage: image(job("running", "running", 2, 4)),
          SequenceNumber: "111100000000000000000001",
          StreamViewType: "NEW_AND_OLD_IMAGES",
        },
      },
    ],
  };
}

beforeAll(async () => {
  vi.stubEnv("TABLE_NAME", "table");
  vi.stubEnv("WS_CALLBACK_URL", "https://abc.execute-api.us-east-1.amazonaws.com/prod");
  vi.stubEnv("AWS_REGION", "us-east-1");
  ({ handler } = await import("#functions/streams/fanout"));
});

afterAll(() => {
  vi.unstubAllEnvs();
});

beforeEach(() => {
  ddb.reset();
  sockets.reset();
  ddb.on(QueryCommand, { ExpressionAttributeValues: { ":pk": `T#default#SUB#J#${JOB}` } }).resolves({
    Items: [{ connectionId: "conn-job" }, { connectionId: "conn-gone" }],
  });
  ddb.on(QueryCommand, { ExpressionAttributeValues: { ":pk": "T#default#SUB#ALL" } }).resolves({
    Items: [{ connectionId: "conn-all" }, { connectionId: "conn-job" }],
  });
  ddb.on(GetCommand).resolves({ Item: { subscriptions: [`T#default#SUB#J#${JOB}`] } });
  ddb
    .on(GetCommand, { Key: { pk: "T#default#LIVE", sk: "LIVE" } })
    .resolves({ Item: { n: 3, expiresAt: Math.floor(Date.now() / 1000) + 3600 } });
  ddb.on(DeleteCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  sockets.on(PostToConnectionCommand).resolves({});
  sockets
    .on(PostToConnectionCommand, { ConnectionId: "conn-gone" })
    .rejects(new GoneException({ message: "gone", $metadata: { httpStatusCode: 410 } }));
});

describe("fanout", () => {
  it("sends each inserted timeline event once to every subscriber of the job or the tenant", async () => {
    const event = jobRecordEvent();
    const result = await handler(event, context);
    expect(result).toEqual({ batchItemFailures: [] });
    const sent = sockets.commandCalls(PostToConnectionCommand).map((c) => c.args[0].input);
    // Both events to each live subscriber; the gone one is dropped at its first.
    expect(sent.map((s) => s.ConnectionId).sort()).toEqual([
      "conn-all",
      "conn-all",
      "conn-gone",
      "conn-job",
      "conn-job",
    ]);
    const toAll = sent
      .filter((s) => s.ConnectionId === "conn-all")
      .map((s) => JSON.parse(Buffer.from(s.Data as Uint8Array).toString("utf8")));
    expect(toAll.map((m) => m.seq)).toEqual([3, 4]);
    expect(toAll).toContainEqual({
      type: "job.status_changed",
      jobId: JOB,
      seq: expect.any(Number),
      at: "2023-11-14T22:13:20.000Z",
      status: "running",
      previousStatus: "queued",
    });
  });

  it("deletes a connection that answers 410 Gone, with its subscriptions", async () => {
    await handler(jobRecordEvent(), context);
    const deleted = ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key);
    expect(deleted).toContainEqual({ pk: "T#default#C#conn-gone", sk: "CONN" });
    expect(deleted).toContainEqual({ pk: `T#default#SUB#J#${JOB}`, sk: "C#conn-gone" });
  });

  it("reports the failed record so the stream retries from it", async () => {
    sockets.on(PostToConnectionCommand, { ConnectionId: "conn-all" }).rejects(new Error("throttled"));
    const result = await handler(jobRecordEvent(), context);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "111100000000000000000001" }] });
  });

  it("looks up no subscribers while the tenant holds no subscription, and still stores the timeline", async () => {
    for (const live of [
      undefined,
      { n: 0, expiresAt: Math.floor(Date.now() / 1000) + 3600 },
      { n: 2, expiresAt: 1 },
    ]) {
      ddb.resetHistory();
      ddb.on(GetCommand, { Key: { pk: "T#default#LIVE", sk: "LIVE" } }).resolves({ Item: live });
      const result = await handler(jobRecordEvent(), context);
      expect(result).toEqual({ batchItemFailures: [] });
      expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
      expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
      expect(ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item?.type)).toContain("timelinePage");
      expect(sockets.commandCalls(PostToConnectionCommand)).toHaveLength(0);
    }
  });

  it("reads the tenant's presence and tenant-wide subscribers once per batch, and no job's when none is counted", async () => {
    ddb
      .on(GetCommand, { Key: { pk: "T#default#LIVE", sk: "LIVE" } })
      .resolves({ Item: { n: 1, jobs: 0, wide: 1, expiresAt: Math.floor(Date.now() / 1000) + 3600 } });
    const jobs = [
      "j_01hx0000000000000000000001",
      "j_01hx0000000000000000000002",
      "j_01hx0000000000000000000003",
    ];
    const result = await handler({ Records: jobs.flatMap((id) => jobRecordEvent(id).Records) }, context);
    expect(result).toEqual({ batchItemFailures: [] });
    const queried = ddb
      .commandCalls(QueryCommand)
      .map((c) => c.args[0].input.ExpressionAttributeValues?.[":pk"]);
    expect(queried).toEqual(["T#default#SUB#ALL"]);
    const live = ddb.commandCalls(GetCommand).filter((c) => c.args[0].input.Key?.pk === "T#default#LIVE");
    expect(live).toHaveLength(1);
    const sent = sockets.commandCalls(PostToConnectionCommand).map((c) => c.args[0].input);
    // Two events of each job to each of the tenant's subscribers.
    expect(sent.filter((s) => s.ConnectionId === "conn-all")).toHaveLength(6);
    expect(sent.filter((s) => s.ConnectionId === "conn-job")).toHaveLength(6);
  });

  it("ignores records that are not job items", async () => {
    const event = jobRecordEvent();
    const record = event.Records[0];
    if (record?.dynamodb?.NewImage === undefined) throw new Error("fixture has no record");
    record.dynamodb.NewImage = marshall({ pk: "T#default#C#x", sk: "CONN", type: "connection" }) as never;
    expect(await handler(event, context)).toEqual({ batchItemFailures: [] });
    expect(sockets.commandCalls(PostToConnectionCommand)).toHaveLength(0);
  });
});
