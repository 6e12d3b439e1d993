import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { dynamo, resetClients, sqsClient } from "#shared/aws";
import { withoutRequestLog } from "#shared/sdk";

const names = (client: { middlewareStack: { identify(): string[] } }) =>
  client.middlewareStack.identify().map((entry) => entry.split(" ")[0]);

describe("SDK clients", () => {
  afterEach(() => resetClients());

  it("a new client carries the logger middleware, which withoutRequestLog takes off and nothing else", () => {
    const client = new DynamoDBClient({ region: "us-east-1" });
    const before = names(client);
    expect(before).toContain("loggerMiddleware");
    withoutRequestLog(client);
    expect(names(client)).toEqual(before.filter((name) => name !== "loggerMiddleware"));
  });

  it("the shared clients are built without it", () => {
    process.env.AWS_REGION ??= "us-east-1";
    expect(names(dynamo())).not.toContain("loggerMiddleware");
    expect(names(sqsClient())).not.toContain("loggerMiddleware");
    expect(names(new SQSClient({ region: "us-east-1" }))).toContain("loggerMiddleware");
  });
});
