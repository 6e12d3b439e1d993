import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import type { ZodType, z } from "zod";
import { AuthContext } from "#events/auth";
import { type ContractRoute, type RouteId, type Routes, routeList } from "#events/routes";
import { AppError, forbidden, payloadTooLarge, unauthorized } from "../errors.ts";
import { logger, tracer } from "../observability.ts";
import { type AuditEntry, recordAudit } from "../stores/audit.ts";
import { cors } from "./cors.ts";
import { errorResult, json } from "./respond.ts";

/** Bodies larger than this are refused before parsing. API Gateway's own limit is 10 MB. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** DynamoDB stores documents at most 32 levels deep; a deeper body could never be stored, and walking it recursively overflows the stack. */
export const MAX_BODY_DEPTH = 32;
/** Ids and names in paths end up in DynamoDB keys (at most 1 KB for a sort key, with a prefix). */
export const MAX_PATH_PARAMETER_BYTES = 512;

export interface Principal {
  tenantId: string;
  principalId: string;
  principalType: "user" | "apiKey";
  role: AuthContext["role"];
  email?: string;
  platformAdmin: boolean;
  /** For an API key: the person it acts for. */
  ownerId?: string;
}

export interface ApiRequest<B, Q> {
  event: APIGatewayProxyEvent;
  body: B;
  query: Q;
  params: Record<string, string>;
  /** Present on every route behind the authorizer. */
  principal: Principal;
  requestId: string;
  sourceIp: string;
  /**
   * The audit entry of this request, for a handler that writes it with its own items (a job's submission
   * does, in the job's one BatchWriteItem) and then says so with `written`, so it is not written again.
   */
  audit?: { entry(resource: string, status: number): AuditEntry; written(): void };
}

/** A route may return a plain value (sent with `status`) or a full response. */
export interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * The server side of a route of the contract (`events/routes.ts`): its handler. Schemas, status and summary
 * come from the contract; the fields below are for a route that is not yet described there, and `body`/`query`
 * may also replace the contract's schema with one that parses the same input differently (keeps failures for
 * a richer report, say).
 */
export interface RouteDefinition<B = unknown, Q = unknown> {
  body?: ZodType<B>;
  query?: ZodType<Q>;
  response?: ZodType;
  status?: number;
  summary?: string;
  /**
   * Mutations are audited by default. `false` for those that are not a change of the tenant's state
   * (login, validation); a function to name the resource when the path alone does not (a created id).
   */
  audit?: false | ((request: ApiRequest<B, Q>, result: unknown) => { resource?: string; tenantId?: string });
  handle(request: ApiRequest<B, Q>): Promise<unknown>;
}

type Parsed<T> = T extends ZodType ? z.output<T> : undefined;
/** The parsed body of a route, as its contract schema gives it. */
export type BodyOf<Id extends RouteId> = Parsed<Routes[Id] extends { body: infer B } ? B : undefined>;
/** The parsed query of a route; the raw query string's values when the contract gives no schema. */
export type QueryOf<Id extends RouteId> = Routes[Id] extends { query: infer Q }
  ? Parsed<Q>
  : Record<string, string | undefined>;

/** Handlers of routes of the contract, each typed by its route's body and query schemas. */
export function implementRoutes(
  table: {
    [Id in RouteId]?: RouteDefinition<BodyOf<Id>, QueryOf<Id>>;
  },
): RouteTable {
  return table as RouteTable;
}

export function defineRoute<B = undefined, Q = undefined>(
  definition: RouteDefinition<B, Q>,
): RouteDefinition<B, Q> {
  return definition;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds routes of every body and query type.
export type RouteTable = Record<string, RouteDefinition<any, any>>;

export function isApiResponse(value: unknown): value is ApiResponse {
  return typeof value === "object" && value !== null && "status" in value && typeof value.status === "number";
}

function zodDetails(error: z.ZodError) {
  return error.issues.map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
    code: issue.code,
  }));
}

function parseOrThrow<T>(schema: ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AppError(400, "VALIDATION_FAILED", `Invalid ${where}`, zodDetails(result.error));
  }
  return result.data;
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === lower && value !== undefined) return value;
  }
  return undefined;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
/** A lone UTF-16 surrogate: a string with one cannot have come from valid UTF-8. */
const LONE_SURROGATE = /\p{Surrogate}/u;

function notUtf8(): AppError {
  return new AppError(400, "BAD_REQUEST", "Request body is not valid UTF-8");
}

/**
 * JSON bodies must be UTF-8 (RFC 8259). Bytes that are not arrive base64-encoded (API Gateway does this for
 * binary media types; the twin for any body that does not decode), and are refused here rather than read
 * with replacement characters that would silently change the caller's data.
 */
function bodyText(event: APIGatewayProxyEvent & { body: string }): string {
  if (!event.isBase64Encoded) {
    if (LONE_SURROGATE.test(event.body)) throw notUtf8();
    return event.body;
  }
  try {
    return strictUtf8.decode(Buffer.from(event.body, "base64"));
  } catch {
    throw notUtf8();
  }
}

function parseBody(event: APIGatewayProxyEvent): unknown {
  if (event.body === null || event.body === undefined || event.body === "") return undefined;
  if (event.body.length > MAX_BODY_BYTES * 2) {
    throw payloadTooLarge(`Request body is larger than the ${MAX_BODY_BYTES}-byte body limit`);
  }
  const raw = bodyText(event as APIGatewayProxyEvent & { body: string });
  if (Buffer.byteLength(raw, "utf8") > MAX_BODY_BYTES) {
    throw payloadTooLarge(`Request body is larger than the ${MAX_BODY_BYTES}-byte body limit`);
  }
  const type = header(event, "content-type");
  if (type !== undefined && !/^application\/(.+\+)?json\b/i.test(type)) {
    throw new AppError(415, "UNSUPPORTED_MEDIA_TYPE", "Request body must be application/json");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new AppError(400, "BAD_REQUEST", "Request body is not valid JSON", {
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  checkShape(parsed);
  return parsed;
}

/**
 * Refuses bodies nested deeper than DynamoDB can store, and keys that reach a prototype when code copies
 * or merges the value (`__proto__`, `constructor.prototype`). Iterative, so a deep body cannot overflow the
 * stack here either.
 */
function checkShape(body: unknown): void {
  const pending: { value: unknown; depth: number }[] = [{ value: body, depth: 0 }];
  while (pending.length > 0) {
    const { value, depth } = pending.pop() as { value: unknown; depth: number };
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_BODY_DEPTH) {
      throw new AppError(400, "BAD_REQUEST", `Request body is nested deeper than ${MAX_BODY_DEPTH} levels`);
    }
    if (!Array.isArray(value)) {
      if (Object.hasOwn(value, "__proto__")) {
        throw new AppError(400, "BAD_REQUEST", "Request body has a forbidden key: __proto__");
      }
      const ctor = (value as Record<string, unknown>).constructor;
      if (
        Object.hasOwn(value, "constructor") &&
        ctor !== null &&
        typeof ctor === "object" &&
        Object.hasOwn(ctor, "prototype")
      ) {
        throw new AppError(400, "BAD_REQUEST", "Request body has a forbidden key: constructor.prototype");
      }
    }
    for (const child of Object.values(value)) pending.push({ value: child, depth: depth + 1 });
  }
}

function pathParameters(event: APIGatewayProxyEvent): Record<string, string> {
  const params = Object.fromEntries(Object.entries(event.pathParameters ?? {}).map(([k, v]) => [k, v ?? ""]));
  for (const [name, value] of Object.entries(params)) {
    if (Buffer.byteLength(value, "utf8") > MAX_PATH_PARAMETER_BYTES) {
      throw new AppError(
        400,
        "VALIDATION_FAILED",
        `Path parameter ${name} is longer than ${MAX_PATH_PARAMETER_BYTES} bytes`,
      );
    }
  }
  return params;
}

function principalOf(event: APIGatewayProxyEvent): Principal {
  const parsed = AuthContext.safeParse(event.requestContext.authorizer ?? {});
  if (!parsed.success) throw unauthorized();
  const { platformAdmin, ...rest } = parsed.data;
  return { ...rest, platformAdmin: platformAdmin === "true" };
}

/** Role checks live here, read from the contract's route table, and nowhere else. */
export function authorizeRoute(route: ContractRoute, principal: Principal): void {
  if (!route.roles.includes(principal.role)) throw forbidden();
  if (route.platformAdmin === true && !principal.platformAdmin)
    throw forbidden("Only a platform admin may do this");
}

export function findRoute(event: APIGatewayProxyEvent): ContractRoute | undefined {
  return routeList.find((r) => r.path === event.resource && r.method === event.httpMethod);
}

export function toErrorResult(error: unknown, requestId: string): APIGatewayProxyResult {
  if (error instanceof AppError) {
    return errorResult(
      error.status,
      {
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
        requestId,
      },
      error.headers,
    );
  }
  if (dependencyUnreachable(error)) {
    logger.error("A dependency did not answer", { error: (error as Error).message });
    return errorResult(
      503,
      { code: "SERVICE_UNAVAILABLE", message: "A dependency is unavailable; try again shortly", requestId },
      { "retry-after": "1" },
    );
  }
  logger.error("Unhandled error", error as Error);
  return errorResult(500, { code: "INTERNAL", message: "Internal error", requestId });
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"]);

/** The SDK gave up on a dependency that did not answer at all: the caller may retry, nothing is wrong with the request. */
function dependencyUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (typeof code === "string" && UNREACHABLE.has(code)) || error.name === "ServiceUnavailable";
}

/**
 * Every successful mutation leaves an entry: who, what, when, from where. Written before the response, so
 * a change the caller was told about is never missing from the log.
 */
async function audit(
  route: ContractRoute,
  definition: RouteDefinition<unknown, unknown>,
  request: ApiRequest<unknown, unknown>,
  result: unknown,
  status: number,
): Promise<void> {
  const body = isApiResponse(result) ? result.body : result;
  const named = typeof definition.audit === "function" ? definition.audit(request, body) : {};
  const createdId =
    typeof body === "object" && body !== null
      ? ((body as Record<string, unknown>).id ?? (body as Record<string, unknown>).jobId)
      : undefined;
  const resource =
    named.resource ??
    (typeof createdId === "string" ? `${request.event.path}/${createdId}` : request.event.path);
  await recordAudit(auditEntry(route, request, resource, status, named.tenantId));
}

function auditEntry(
  route: ContractRoute,
  request: ApiRequest<unknown, unknown>,
  resource: string,
  status: number,
  tenantId?: string,
): AuditEntry {
  return {
    tenantId: tenantId ?? request.principal.tenantId,
    actorId: request.principal.principalId,
    actorType: request.principal.principalType,
    action: route.id,
    resource,
    requestId: request.requestId,
    sourceIp: request.sourceIp,
    status,
    at: new Date().toISOString(),
  };
}

async function dispatch(routes: RouteTable, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const requestId = event.requestContext?.requestId ?? "unknown";
  try {
    const route = findRoute(event);
    const definition = route === undefined ? undefined : routes[route.id];
    if (route === undefined || definition === undefined) {
      throw new AppError(404, "NOT_FOUND", `No route for ${event.httpMethod} ${event.path}`);
    }
    let principal: Principal | undefined;
    if (route.auth === "authorizer") {
      principal = principalOf(event);
      logger.appendKeys({ tenantId: principal.tenantId, principalId: principal.principalId });
      authorizeRoute(route, principal);
    }
    const params = pathParameters(event);
    const rawBody = parseBody(event);
    const bodySchema = (definition.body ?? route.body) as ZodType | undefined;
    const body = bodySchema === undefined ? rawBody : parseOrThrow(bodySchema, rawBody ?? {}, "request body");
    const rawQuery = event.queryStringParameters ?? {};
    const querySchema = (definition.query ?? route.query) as ZodType | undefined;
    const query = querySchema === undefined ? rawQuery : parseOrThrow(querySchema, rawQuery, "query string");
    const apiRequest: ApiRequest<unknown, unknown> = {
      event,
      body,
      query,
      params,
      principal: principal as Principal,
      requestId,
      sourceIp: event.requestContext?.identity?.sourceIp ?? "unknown",
    };
    let audited = false;
    if (principal !== undefined && route.method !== "GET" && definition.audit !== false) {
      apiRequest.audit = {
        entry: (resource, status) => auditEntry(route, apiRequest, resource, status),
        written: () => {
          audited = true;
        },
      };
    }
    const result = await definition.handle(apiRequest);
    const response = isApiResponse(result)
      ? json(result.status, result.body, result.headers)
      : json(route.status, result);
    if (route.method !== "GET" && principal !== undefined && definition.audit !== false && !audited) {
      await audit(route, definition, apiRequest, result, response.statusCode);
    }
    return response;
  } catch (error) {
    return toErrorResult(error, requestId);
  }
}

/**
 * The REST handler: Powertools logger and tracer, then one dispatcher that finds the route in the contract,
 * checks the caller's role, parses and validates body and query with the route's zod schemas, and maps every
 * error to the contract's body.
 */
export function createApiHandler(routes: RouteTable) {
  const handler = (event: APIGatewayProxyEvent, _context: Context) => dispatch(routes, event);
  return middy(handler)
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(cors())
    .use({
      before: (request) => {
        logger.appendKeys({ requestId: request.event.requestContext?.requestId });
      },
    });
}
