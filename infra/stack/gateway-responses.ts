/**
 * The errors API Gateway answers itself, in the contract's `{code, message, requestId}`. Plain data with no
 * CDK import: the stack turns each line into a gateway response, and the local twin answers the same
 * status, code and message.
 */

export interface GatewayError {
  /** API Gateway's response type (`ResponseType.of(type)`). */
  type: string;
  code: string;
  /** Status to answer with, when it differs from the type's own. */
  statusCode?: string;
  /** Fixed message; without one, API Gateway's own (`$context.error.messageString`). */
  message?: string;
  /** Static headers the response adds (a gateway response cannot compute one). */
  headers?: Readonly<Record<string, string>>;
}

export const gatewayErrors: readonly GatewayError[] = [
  { type: "UNAUTHORIZED", code: "UNAUTHORIZED" },
  // The authorizer refuses a credential with an explicit Deny rather than by throwing, so a refusal is not
  // a function error (and its Errors alarm means a fault). Role checks answer 403 from the api function,
  // so a Deny always means "who are you?": 401, which tells the dashboard to refresh its token.
  { type: "ACCESS_DENIED", code: "UNAUTHORIZED", statusCode: "401", message: "Unauthorized" },
  { type: "WAF_FILTERED", code: "FORBIDDEN" },
  // A usage key's bucket refills at its plan's rate (at least one request a second for every plan), so one
  // second is always enough for the next request; clients such as the CLI wait that long.
  { type: "THROTTLED", code: "TOO_MANY_REQUESTS", headers: { "Retry-After": "1" } },
  // A usage key's monthly quota: waiting a second would not help, so no Retry-After.
  { type: "QUOTA_EXCEEDED", code: "TOO_MANY_REQUESTS" },
  // With an AUTHORIZER key source, a usage key that names no key of a plan on this stage.
  { type: "INVALID_API_KEY", code: "FORBIDDEN" },
  // API Gateway answers an unknown path or method with 403 "Missing Authentication Token"; the contract
  // says 404 for anything that does not exist.
  { type: "MISSING_AUTHENTICATION_TOKEN", code: "NOT_FOUND", statusCode: "404", message: "No such route" },
  { type: "REQUEST_TOO_LARGE", code: "PAYLOAD_TOO_LARGE" },
  { type: "UNSUPPORTED_MEDIA_TYPE", code: "UNSUPPORTED_MEDIA_TYPE" },
  { type: "INTEGRATION_TIMEOUT", code: "SERVICE_UNAVAILABLE" },
  { type: "DEFAULT_4XX", code: "BAD_REQUEST" },
  { type: "DEFAULT_5XX", code: "INTERNAL" },
];

export function gatewayError(type: string): GatewayError {
  const found = gatewayErrors.find((e) => e.type === type);
  if (found === undefined) throw new Error(`No gateway response for ${type}`);
  return found;
}

/** What the REST API's CORS preflights (a mock integration on every resource) allow. */
export const corsPreflight = {
  allowHeaders: ["Authorization", "Content-Type", "x-api-key", "Idempotency-Key"],
  maxAgeSeconds: 3600,
} as const;

/**
 * Headers of every gateway response. A gateway response is static, so it can name one origin only: the
 * first of the stage's allowed origins, the dashboard's.
 */
export function gatewayCorsHeaders(allowedOrigins: readonly string[]): Record<string, string> {
  const first = allowedOrigins[0];
  return first === undefined ? {} : { "Access-Control-Allow-Origin": first, Vary: "Origin" };
}
