import type { APIGatewayProxyResult } from "aws-lambda";
import type { ErrorBody } from "#events/errors";

export const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
} as const;

export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { ...JSON_HEADERS, ...headers },
    body: body === undefined ? "" : JSON.stringify(body),
  };
}

export function errorResult(
  statusCode: number,
  body: ErrorBody,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return json(statusCode, body, headers);
}
