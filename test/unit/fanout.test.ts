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
import type { Context, DynamoDBStreamEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import streamFixture from "#events/fixtures/dynamodb-stream-event-job-modify.json" with { type: "json" };

const ddb = mockClient(DynamoDBDocumentClient);
const sockets = mockClient(ApiGatewayManagementApiClient);
const context = { functionName: "fanout", awsRequestId: "r" } as Context;
const JOB = "j_01hx0000000000000000000000";

let handler: typeof import("#functions/streams/fanout").handler;

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
  ddb.on(DeleteCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  sockets.on(PostToConnectionCommand).resolves({});
  sockets
    .on(PostToConnectionCommand, { ConnectionId: "conn-gone" })
    .rejects(new GoneException({ message: "gone", $metadata: { httpStatusCode: 410 } }));
});

describe("fanout", () => {
  it("sends each event derived from a job change once to every subscriber of the job or the tenant", async () => {
    const event = structuredClone(streamFixture) as unknown as DynamoDBStreamEvent;
    const result = await handler(event, context);
    expect(result).toEqual({ batchItemFailures: [] });
    const sent = sockets.commandCalls(PostToConnectionCommand).map((c) => c.args[0].input);
    expect(sent.map((s) => s.ConnectionId).sort()).toEqual(["conn-all", "conn-gone", "conn-job"]);
    const message = JSON.parse(Buffer.from(sent[0]?.Data as Uint8Array).toString("utf8"));
    expect(message).toEqual({
      type: "job.status_changed",
      jobId: JOB,
      seq: 2,
      at: "2023-11-14T22:13:20.000Z",
      status: "running",
      previousStatus: "queued",
    });
  });

  it("deletes a connection that answers 410 Gone, with its subscriptions", async () => {
    await handler(structuredClone(streamFixture) as unknown as DynamoDBStreamEvent, context);
    const deleted = ddb.commandCalls(DeleteCommand).map((c) => c.args[0].input.Key);
    expect(deleted).toContainEqual({ pk: "T#default#C#conn-gone", sk: "CONN" });
    expect(deleted).toContainEqual({ pk: `T#default#SUB#J#${JOB}`, sk: "C#conn-gone" });
  });

  it("reports the failed record so the stream retries from it", async () => {
    sockets.on(PostToConnectionCommand, { ConnectionId: "conn-all" }).rejects(new Error("throttled"));
    const result = await handler(structuredClone(streamFixture) as unknown as DynamoDBStreamEvent, context);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "111100000000000000000001" }] });
  });

  it("stores the derived events as one timeline page of the job", async () => {
    await handler(structuredClone(streamFixture) as unknown as DynamoDBStreamEvent, context);
    const pages = ddb
      .commandCalls(PutCommand)
      .map((c) => c.args[0].input.Item)
      .filter((item) => String(item?.sk).startsWith("E#"));
    expect(pages).toHaveLength(1);
    expect(pages[0]?.pk).toBe(`T#default#J#${JOB}`);
  });

  it("ignores records that are not job items", async () => {
    const event = structuredClone(streamFixture) as unknown as DynamoDBStreamEvent;
    const record = event.Records[0];
    if (record?.dynamodb?.NewImage === undefined) throw new Error("fixture has no record");
    record.dynamodb.NewImage.type = { S: "summary" };
    expect(await handler(event, context)).toEqual({ batchItemFailures: [] });
    expect(sockets.commandCalls(PostToConnectionCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });
});
