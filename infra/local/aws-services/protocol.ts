/**
 * What every local AWS service speaks. JSON-protocol services (Secrets Manager, KMS, ECS, SQS) are chosen by
 * the `X-Amz-Target` prefix; REST-protocol services (EventBridge Scheduler) by the SigV4 signing name.
 */
import type { IncomingHttpHeaders } from "node:http";

export interface RawRequest {
  method: string;
  /** Path and query string, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Aborted when the caller hangs up, so a forwarded long poll can be cancelled. */
  signal: AbortSignal;
}

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** An error as AWS returns it: the SDK maps `type` to the exception class of the same name. */
export class AwsServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = type;
  }
}

export type JsonOperation = (input: Record<string, unknown>, request: RawRequest) => unknown;

export interface JsonService {
  /** For logs. */
  name: string;
  /** The part of `X-Amz-Target` before the dot: `secretsmanager`, `AmazonSQS`, `TrentService` (KMS). */
  targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1`, as the real service answers. */
  contentType: string;
  operations: Record<string, JsonOperation>;
  /** Operations not in `operations` go here (e.g. to another emulator); without it they are unknown. */
  forward?: (operation: string, request: RawRequest) => Promise<RawResponse>;
}

export interface RestService {
  name: string;
  /** The SigV4 signing name the SDK puts in the credential scope, e.g. `scheduler`. */
  signingName: string;
  handle(request: RawRequest): Promise<RawResponse>;
}

export function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== "string" || value === "") {
    throw new AwsServiceError(
      "ValidationException",
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

/** `Credential=AKID/20240101/us-east-1/sqs/aws4_request` → `{ region: "us-east-1", service: "sqs" }`. */
export function credentialScope(headers: IncomingHttpHeaders): { region?: string; service?: string } {
  const match = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(headers.authorization ?? "");
  return { region: match?.[1], service: match?.[2] };
}
