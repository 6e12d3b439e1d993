import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ENV, requireEnv } from "./config.ts";
import { withoutRequestLog } from "./sdk.ts";

/**
 * SDK clients with default configuration, created once per container. Endpoints come from the SDK's
 * standard variables (`AWS_ENDPOINT_URL_<SERVICE>`), never from code.
 */
let ddb: DynamoDBDocumentClient | undefined;
let sqs: SQSClient | undefined;
let s3: S3Client | undefined;
let management: ApiGatewayManagementApiClient | undefined;

export function dynamo(): DynamoDBDocumentClient {
  ddb ??= DynamoDBDocumentClient.from(withoutRequestLog(new DynamoDBClient({})), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return ddb;
}

export function sqsClient(): SQSClient {
  sqs ??= withoutRequestLog(new SQSClient({}));
  return sqs;
}

export function s3Client(): S3Client {
  s3 ??= withoutRequestLog(new S3Client({}));
  return s3;
}

export function managementApi(): ApiGatewayManagementApiClient {
  management ??= withoutRequestLog(
    new ApiGatewayManagementApiClient({ endpoint: requireEnv(ENV.wsCallbackUrl) }),
  );
  return management;
}

/** Tests swap clients in and out; production code never calls this. */
export function resetClients(): void {
  ddb = undefined;
  sqs = undefined;
  s3 = undefined;
  management = undefined;
}
