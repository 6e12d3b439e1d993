import { isUtf8 } from "node:buffer";
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type {
  APIGatewayEventIdentity,
  APIGatewayEventRequestContextWithAuthorizer,
  APIGatewayProxyEvent,
  APIGatewayRequestAuthorizerEvent,
} from "aws-lambda";
import { type HttpRoute, manifest } from "#infra/manifest";
import { gatewayCorsHeaders, gatewayError } from "#infra/stack/gateway-responses";
import { runAuthorizer } from "./authorizer.ts";
import type { LocalApiGateway } from "./aws-services/api-gateway.ts";
import type { FunctionRunner } from "./functions.ts";
import {
  clfTime,
  headerSets,
  PayloadTooLargeError,
  querySets,
  readBody,
  sendError,
  sendJson,
  sourceIp,
} from "./http-utils.ts";
import { ACCOUNT_ID } from "./lambda-context.ts";
import type { Logger } from "./log.ts";
import { UsageThrottle } from "./throttle.ts";

/** API Gateway's request payload limit. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** API Gateway REST's integration timeout. */
const INTEGRATION_TIMEOUT_MS = 29_000;

export interface ApiInfo {
  region: string;
  apiId: string;
  stage: string;
}

interface CompiledRoute {
  route: HttpRoute;
  pattern: RegExp;
  params: string[];
  literalSegments: number;
}

function compile(route: HttpRoute): CompiledRoute {
  const params: string[] = [];
  let literalSegments = 0;
  const source = route.path
    .split("/")
    .map((segment) => {
      const param = /^\{([^}+]+)(\+?)\}$/.exec(segment);
      if (!param) {
        literalSegments++;
        return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      }
      params.push(param[1] ?? "");
      return param[2] === "+" ? "(.+)" : "([^/]+)";
    })
    .join("/");
  return { route, pattern: new RegExp(`^${source}$`), params, literalSegments };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export type RouteMatch =
  | { kind: "route"; route: HttpRoute; pathParameters: Record<string, string> | null }
  | { kind: "method-not-allowed" }
  | { kind: "none" };

/** Matches a path against the manifest's resources; literal segments beat parameters, as in API Gateway. */
export function createRouter(routes: readonly HttpRoute[] = manifest.http.routes) {
  const compiled = routes.map(compile).sort((a, b) => b.literalSegments - a.literalSegments);
  return (method: string, path: string): RouteMatch => {
    const normalised = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
    let pathMatched = false;
    for (const candidate of compiled) {
      const match = candidate.pattern.exec(normalised);
      if (!match) continue;
      pathMatched = true;
      if (candidate.route.method !== method) continue;
      const values = candidate.params.map((name, index) => [name, safeDecode(match[index + 1] ?? "")]);
      return {
        kind: "route",
        route: candidate.route,
        pathParameters: values.length ? Object.fromEntries(values) : null,
      };
    }
    return pathMatched ? { kind: "method-not-allowed" } : { kind: "none" };
  };
}

const TEXT_TYPES =
  /^(text\/|application\/(json|[\w.+-]+\+json|x-www-form-urlencoded|xml|[\w.+-]+\+xml|javascript|graphql))/i;

function identity(request: IncomingMessage, apiKey: string | null): APIGatewayEventIdentity {
  return {
    accessKey: null,
    accountId: null,
    apiKey,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp: sourceIp(request),
    user: null,
    userAgent: request.headers["user-agent"] ?? null,
    userArn: null,
  };
}

/** The integration's answer, checked as API Gateway checks a Lambda proxy response. */
function writeProxyResult(response: ServerResponse, result: unknown, requestId: string, log: Logger): void {
  const value = result as {
    statusCode?: unknown;
    headers?: Record<string, unknown>;
    multiValueHeaders?: Record<string, unknown>;
    body?: unknown;
    isBase64Encoded?: unknown;
  } | null;
  const statusCode = value?.statusCode;
  const valid =
    value !== null &&
    typeof value === "object" &&
    typeof statusCode === "number" &&
    Number.isInteger(statusCode) &&
    statusCode >= 100 &&
    statusCode <= 599 &&
    (value.body === undefined || value.body === null || typeof value.body === "string");
  if (!valid) {
    log.error(`malformed Lambda proxy response: ${JSON.stringify(result)?.slice(0, 300)}`);
    sendJson(
      response,
      502,
      { message: "Internal server error" },
      { "x-amzn-requestid": requestId, "x-amzn-errortype": "InternalServerErrorException" },
    );
    return;
  }
  const headers = new Map<string, { name: string; values: string[] }>();
  const add = (name: string, raw: unknown) => {
    const key = name.toLowerCase();
    const entry = headers.get(key) ?? { name, values: [] };
    entry.values.push(String(raw));
    headers.set(key, entry);
  };
  for (const [name, values] of Object.entries(value.multiValueHeaders ?? {})) {
    for (const item of Array.isArray(values) ? values : [values]) add(name, item);
  }
  for (const [name, item] of Object.entries(value.headers ?? {})) {
    const existing = headers.get(name.toLowerCase());
    if (!existing?.values.includes(String(item))) add(name, item);
  }
  const text = typeof value.body === "string" ? value.body : "";
  const body = value.isBase64Encoded === true ? Buffer.from(text, "base64") : Buffer.from(text);
  const outgoing: Record<string, string | string[]> = {};
  for (const { name, values } of headers.values())
    outgoing[name] = values.length === 1 ? (values[0] ?? "") : values;
  for (const name of Object.keys(outgoing)) {
    if (name.toLowerCase() === "content-length" || name.toLowerCase() === "transfer-encoding")
      delete outgoing[name];
  }
  outgoing["content-length"] = String(body.length);
  outgoing["x-amzn-requestid"] = requestId;
  outgoing["x-amz-apigw-id"] = randomBytes(8).toString("base64url").slice(0, 12);
  if (!Object.keys(outgoing).some((name) => name.toLowerCase() === "content-type"))
    outgoing["content-type"] = "application/json";
  response.writeHead(statusCode as number, outgoing);
  response.end(body);
}

/**
 * API Gateway REST in front of the Lambda proxy integrations: runs the authorizer for protected routes, builds
 * the v1 proxy event and maps the result back to HTTP.
 */
export function createRestApi(options: {
  functions: FunctionRunner;
  info: ApiInfo;
  /** The stage's allowed browser origins; gateway responses name the first, as the stack's do. */
  allowedOrigins: () => string[];
  /** The API Gateway control plane's keys and usage plans, which decide each caller's bucket. */
  usage: Pick<LocalApiGateway, "usageFor">;
  log: Logger;
}) {
  const { functions, info, log, usage } = options;
  const route = createRouter();
  const throttle = new UsageThrottle();
  /** What the stack's gateway responses add to every error API Gateway answers itself. */
  const cors = () => gatewayCorsHeaders(options.allowedOrigins());
  /** An error API Gateway answers itself, as the stack's gateway response for its type shapes it. */
  const gatewayReply = (
    response: ServerResponse,
    type: string,
    status: number,
    message: string,
    requestId: string,
    headers: Record<string, string>,
  ) => {
    const shape = gatewayError(type);
    sendError(
      response,
      shape.statusCode === undefined ? status : Number(shape.statusCode),
      shape.code,
      shape.message ?? message,
      requestId,
      { ...cors(), ...shape.headers, ...headers },
    );
  };
  /** API Gateway's answers when a usage plan refuses a request, with its messages and error types. */
  const throttled = (response: ServerResponse, reason: "throttled" | "quota", requestId: string) =>
    reason === "throttled"
      ? gatewayReply(response, "THROTTLED", 429, "Too Many Requests", requestId, {
          "x-amzn-errortype": "TooManyRequestsException",
        })
      : gatewayReply(response, "QUOTA_EXCEEDED", 429, "Limit Exceeded", requestId, {
          "x-amzn-errortype": "LimitExceededException",
        });

  /** Whether a request belongs to the API: a manifest resource, or anything under `/v1`. */
  const handles = (method: string, path: string) =>
    path === "/v1" || path.startsWith("/v1/") || route(method, path).kind !== "none";

  async function handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const started = Date.now();
    const requestId = randomUUID();
    const method = request.method ?? "GET";
    const finish = (status: number) =>
      log.info(`${method} ${url.pathname} ${status} ${Date.now() - started}ms`);

    const match = route(method, url.pathname);
    if (match.kind === "none") {
      sendError(response, 404, "NOT_FOUND", `No route for ${method} ${url.pathname}`, requestId, cors());
      return finish(404);
    }
    if (match.kind === "method-not-allowed") {
      sendError(
        response,
        405,
        "METHOD_NOT_ALLOWED",
        `${method} is not allowed on ${url.pathname}`,
        requestId,
        cors(),
      );
      return finish(405);
    }

    const stage = throttle.stage();
    if (!stage.allowed) {
      throttled(response, stage.reason, requestId);
      return finish(429);
    }

    let body: Buffer;
    try {
      body = await readBody(request, MAX_PAYLOAD_BYTES);
    } catch (error) {
      if (error instanceof PayloadTooLargeError) {
        sendError(
          response,
          413,
          "PAYLOAD_TOO_LARGE",
          "Request body is over API Gateway's 10 MB limit",
          requestId,
          { ...cors(), connection: "close" },
        );
        return finish(413);
      }
      throw error;
    }

    const { headers, multiValueHeaders } = headerSets(request);
    const forwarded = {
      "X-Forwarded-For": sourceIp(request),
      "X-Forwarded-Port": String(request.socket.localPort ?? ""),
      "X-Forwarded-Proto": "http",
    };
    Object.assign(headers, forwarded);
    for (const [name, value] of Object.entries(forwarded)) multiValueHeaders[name] = [value];
    const { queryStringParameters, multiValueQueryStringParameters } = querySets(url);
    const now = Date.now();
    const requestContext: APIGatewayEventRequestContextWithAuthorizer<undefined> = {
      accountId: ACCOUNT_ID,
      apiId: info.apiId,
      authorizer: undefined,
      domainName: request.headers.host ?? "localhost",
      domainPrefix: (request.headers.host ?? "localhost").split(".")[0]?.split(":")[0] ?? "localhost",
      extendedRequestId: randomBytes(8).toString("base64url").slice(0, 12),
      httpMethod: method,
      identity: identity(request, null),
      path: url.pathname,
      protocol: `HTTP/${request.httpVersion}`,
      requestId,
      requestTime: clfTime(now),
      requestTimeEpoch: now,
      resourceId: randomBytes(3).toString("hex"),
      resourcePath: match.route.path,
      stage: info.stage,
    };

    let authorizer: Record<string, string> | undefined;
    if (match.route.auth === "authorizer") {
      const authorizerEvent: APIGatewayRequestAuthorizerEvent = {
        type: "REQUEST",
        methodArn: `arn:aws:execute-api:${info.region}:${ACCOUNT_ID}:${info.apiId}/${info.stage}/${method}${url.pathname}`,
        resource: match.route.path,
        path: url.pathname,
        httpMethod: method,
        headers,
        multiValueHeaders,
        pathParameters: match.pathParameters,
        queryStringParameters,
        multiValueQueryStringParameters,
        stageVariables: null,
        requestContext: requestContext as unknown as APIGatewayRequestAuthorizerEvent["requestContext"],
      };
      const decision = await runAuthorizer({
        functions,
        name: manifest.http.authorizer,
        event: authorizerEvent,
        log,
      });
      if (decision.kind === "unauthorized") {
        gatewayReply(response, "UNAUTHORIZED", 401, "Unauthorized", requestId, {
          "x-amzn-errortype": "UnauthorizedException",
        });
        return finish(response.statusCode);
      }
      if (decision.kind === "forbidden") {
        gatewayReply(
          response,
          "ACCESS_DENIED",
          403,
          "User is not authorized to access this resource",
          requestId,
          { "x-amzn-errortype": "AccessDeniedException" },
        );
        return finish(response.statusCode);
      }
      if (decision.kind === "error") {
        gatewayReply(response, "DEFAULT_5XX", 500, "Internal server error", requestId, {
          "x-amzn-errortype": "AuthorizerConfigurationException",
        });
        return finish(500);
      }
      authorizer = {
        ...decision.context,
        principalId: decision.principalId,
        integrationLatency: String(Date.now() - now),
      };
      // Every protected method requires an API key, which the AUTHORIZER key source takes from the
      // authorizer's usageIdentifierKey: one that names no enabled key of a plan on this stage is a 403.
      const plan =
        decision.apiKey === undefined
          ? undefined
          : usage.usageFor(decision.apiKey, { apiId: info.apiId, stage: info.stage });
      if (decision.apiKey === undefined || plan === undefined) {
        log.error(
          decision.apiKey === undefined
            ? "the authorizer returned no usageIdentifierKey"
            : "the authorizer's usageIdentifierKey names no enabled key of a usage plan on this stage",
        );
        gatewayReply(response, "INVALID_API_KEY", 403, "Forbidden", requestId, {
          "x-amzn-errortype": "ForbiddenException",
        });
        return finish(response.statusCode);
      }
      requestContext.identity.apiKey = decision.apiKey;
      requestContext.identity.apiKeyId = plan.keyId;
      const verdict = throttle.take(plan.keyId, plan.plan.limits);
      if (!verdict.allowed) {
        throttled(response, verdict.reason, requestId);
        return finish(429);
      }
    }

    const contentType = request.headers["content-type"] ?? "";
    // Bytes that are not UTF-8 travel base64-encoded, so the function sees them as sent rather than with
    // replacement characters in their place.
    const binary =
      body.length > 0 && ((contentType !== "" && !TEXT_TYPES.test(contentType)) || !isUtf8(body));
    const event: APIGatewayProxyEvent = {
      resource: match.route.path,
      path: url.pathname,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters,
      multiValueQueryStringParameters,
      pathParameters: match.pathParameters,
      stageVariables: null,
      requestContext: { ...requestContext, authorizer } as APIGatewayProxyEvent["requestContext"],
      body: body.length === 0 ? null : body.toString(binary ? "base64" : "utf8"),
      isBase64Encoded: binary,
    };

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), INTEGRATION_TIMEOUT_MS);
    });
    try {
      const result = await Promise.race([functions.invoke(match.route.function, event), timedOut]);
      if (result === "timeout") {
        log.error(`${match.route.function} did not answer ${method} ${url.pathname} within 29s`);
        sendJson(
          response,
          504,
          { message: "Endpoint request timed out" },
          { ...cors(), "x-amzn-requestid": requestId },
        );
        return finish(504);
      }
      writeProxyResult(response, result, requestId, log);
      finish(response.statusCode);
    } catch (error) {
      log.error(`${match.route.function} failed on ${method} ${url.pathname}`, error);
      sendJson(
        response,
        502,
        { message: "Internal server error" },
        { ...cors(), "x-amzn-requestid": requestId },
      );
      finish(502);
    } finally {
      clearTimeout(timer);
    }
  }

  return { handles, handle };
}
