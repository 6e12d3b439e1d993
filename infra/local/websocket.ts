import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { type FunctionName, manifest, type WsRoute } from "#infra/manifest";
import { type AuthorizerDecision, runAuthorizer } from "./authorizer.ts";
import type { FunctionRunner } from "./functions.ts";
import { clfTime, headerSets, querySets, sourceIp } from "./http-utils.ts";
import { ACCOUNT_ID } from "./lambda-context.ts";
import type { Logger } from "./log.ts";
import type { ApiInfo } from "./rest-api.ts";
import { STOP_GRACE_MS, settleWithin } from "./settle.ts";

/** API Gateway's limit on a WebSocket message, in either direction. */
export const MAX_MESSAGE_BYTES = 128 * 1024;
const IDLE_TIMEOUT_MS = 10 * 60_000;
const MAX_CONNECTION_MS = 2 * 60 * 60_000;

interface Connection {
  id: string;
  socket: WebSocket;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
  domainName: string;
  authorizer?: Record<string, string>;
  apiKey?: string;
  idleTimer?: NodeJS.Timeout;
  hardTimer: NodeJS.Timeout;
}

export interface ConnectionDescription {
  connectedAt: Date;
  lastActiveAt: Date;
  identity: { sourceIp: string; userAgent: string };
}

/** An id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`), kept free of `/` and `+` so it sits in a path as is. */
function newConnectionId(): string {
  for (;;) {
    const id = randomBytes(11).toString("base64");
    if (!/[/+]/.test(id)) return id;
  }
}

/**
 * Route selection on `$request.body.<path>`: a JSON message whose selected value names a route goes there;
 * anything else (no such route, not JSON, not a string) goes to `$default`.
 */
export function selectRoute(body: string, routeKeys: ReadonlySet<string>, expression: string): string {
  const path = expression
    .replace(/^\$request\.body\.?/, "")
    .split(".")
    .filter(Boolean);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return "$default";
  }
  for (const key of path) {
    value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  }
  return typeof value === "string" && routeKeys.has(value) && !value.startsWith("$") ? value : "$default";
}

function rejectUpgrade(socket: Duplex, statusCode: number, statusText: string, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${statusCode} ${statusText}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * API Gateway WebSocket: the authorizer and `$connect` run before the handshake completes, each frame is routed
 * on the selection expression, and a close runs `$disconnect`. A route's return value is not sent to the client
 * (no route responses are configured), as in AWS; the functions answer through the management API.
 */
export class WebSocketApi {
  private readonly connections = new Map<string, Connection>();
  private readonly server: WebSocketServer;
  private readonly chosenProtocol = new WeakMap<IncomingMessage, string>();
  private readonly routes: Map<string, FunctionName>;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly options: {
      functions: FunctionRunner;
      info: ApiInfo;
      log: Logger;
      routes?: readonly WsRoute[];
      routeSelectionExpression?: string;
      authorizer?: FunctionName;
    },
  ) {
    this.routes = new Map(
      (options.routes ?? manifest.websocket.routes).map((route) => [route.route, route.function]),
    );
    this.server = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_MESSAGE_BYTES,
      handleProtocols: (_protocols, request) => this.chosenProtocol.get(request) ?? false,
    });
  }

  private get authorizerName(): FunctionName | undefined {
    return "authorizer" in this.options ? this.options.authorizer : manifest.websocket.authorizer;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => undefined);
    return promise;
  }

  private baseContext(
    connection: Pick<Connection, "id" | "connectedAt" | "sourceIp" | "userAgent" | "domainName" | "apiKey">,
  ) {
    const now = Date.now();
    return {
      apiId: this.options.info.apiId,
      connectedAt: connection.connectedAt,
      connectionId: connection.id,
      domainName: connection.domainName,
      extendedRequestId: randomBytes(8).toString("base64url").slice(0, 12),
      identity: {
        sourceIp: connection.sourceIp,
        userAgent: connection.userAgent,
        ...(connection.apiKey ? { apiKey: connection.apiKey } : {}),
      },
      messageDirection: "IN",
      requestId: randomBytes(8).toString("base64url").slice(0, 12),
      requestTime: clfTime(now),
      requestTimeEpoch: now,
      stage: this.options.info.stage,
    };
  }

  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const { functions, info, log } = this.options;
    const connectedAt = Date.now();
    const draft = {
      id: newConnectionId(),
      connectedAt,
      sourceIp: sourceIp(request),
      userAgent: request.headers["user-agent"] ?? "",
      domainName: request.headers.host ?? "localhost",
      apiKey: undefined as string | undefined,
    };
    const { headers, multiValueHeaders } = headerSets(request);
    const query = querySets(url);
    const connectContext = { ...this.baseContext(draft), routeKey: "$connect", eventType: "CONNECT" };

    let authorizer: Record<string, string> | undefined;
    const authorizerName = this.authorizerName;
    if (authorizerName) {
      const event: APIGatewayRequestAuthorizerEvent = {
        type: "REQUEST",
        methodArn: `arn:aws:execute-api:${info.region}:${ACCOUNT_ID}:${info.apiId}/${info.stage}/$connect`,
        resource: "$connect",
        path: url.pathname,
        httpMethod: "GET",
        headers,
        multiValueHeaders,
        pathParameters: null,
        ...query,
        stageVariables: null,
        requestContext: connectContext as unknown as APIGatewayRequestAuthorizerEvent["requestContext"],
      };
      const decision: AuthorizerDecision = await runAuthorizer({
        functions,
        name: authorizerName,
        event,
        log,
      });
      if (decision.kind === "unauthorized") return rejectUpgrade(socket, 401, "Unauthorized", "Unauthorized");
      if (decision.kind === "forbidden") return rejectUpgrade(socket, 403, "Forbidden", "Forbidden");
      if (decision.kind === "error")
        return rejectUpgrade(socket, 500, "Internal Server Error", "Internal server error");
      authorizer = {
        ...decision.context,
        principalId: decision.principalId,
        integrationLatency: String(Date.now() - connectedAt),
      };
      draft.apiKey = decision.apiKey;
    }

    const connectFunction = this.routes.get("$connect");
    if (connectFunction) {
      const event = {
        headers,
        multiValueHeaders,
        ...query,
        requestContext: { ...connectContext, authorizer },
        isBase64Encoded: false,
      };
      let result: { statusCode?: number; headers?: Record<string, string> } | undefined;
      try {
        result = await this.track(functions.invoke(connectFunction, event));
      } catch (error) {
        log.error(`${connectFunction} failed on $connect`, error);
        return rejectUpgrade(socket, 502, "Bad Gateway", "Internal server error");
      }
      const statusCode = result?.statusCode ?? 200;
      if (statusCode < 200 || statusCode > 299) {
        return rejectUpgrade(socket, statusCode, "Connection Refused", "Forbidden");
      }
      const protocol = Object.entries(result?.headers ?? {}).find(
        ([name]) => name.toLowerCase() === "sec-websocket-protocol",
      )?.[1];
      if (protocol) this.chosenProtocol.set(request, protocol);
    }

    if (socket.destroyed) return;
    this.server.handleUpgrade(request, socket, head, (ws) => this.accept(ws, { ...draft, authorizer }));
  }

  private accept(socket: WebSocket, draft: Omit<Connection, "socket" | "lastActiveAt" | "hardTimer">): void {
    const connection: Connection = {
      ...draft,
      socket,
      lastActiveAt: Date.now(),
      hardTimer: setTimeout(() => socket.close(1001, "Going away"), MAX_CONNECTION_MS),
    };
    this.connections.set(connection.id, connection);
    this.touch(connection);
    socket.on("message", (data, isBinary) => this.onMessage(connection, data, isBinary));
    socket.on("close", (code, reason) => this.onClose(connection, code, reason.toString()));
    socket.on("error", (error) => this.options.log.warn(`connection ${connection.id}: ${error.message}`));
  }

  private touch(connection: Connection): void {
    connection.lastActiveAt = Date.now();
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => connection.socket.close(1001, "Going away"), IDLE_TIMEOUT_MS);
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    this.touch(connection);
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const body = isBinary ? buffer.toString("base64") : buffer.toString("utf8");
    const routeKey = isBinary
      ? "$default"
      : selectRoute(body, new Set(this.routes.keys()), this.selectionExpression);
    const context = {
      ...this.baseContext(connection),
      routeKey,
      eventType: "MESSAGE",
      messageId: randomBytes(8).toString("base64url").slice(0, 12),
      authorizer: connection.authorizer,
    };
    const target = this.routes.get(routeKey);
    const reply = (message: string) => {
      if (connection.socket.readyState === WebSocket.OPEN) {
        connection.socket.send(
          JSON.stringify({ message, connectionId: connection.id, requestId: context.requestId }),
        );
      }
    };
    if (!target) {
      reply("Forbidden");
      return;
    }
    void this.track(
      this.options.functions
        .invoke(target, { requestContext: context, body, isBase64Encoded: isBinary })
        .catch((error: unknown) => {
          this.options.log.error(`${target} failed on ${routeKey}`, error);
          reply("Internal server error");
        }),
    );
  }

  private get selectionExpression(): string {
    return this.options.routeSelectionExpression ?? manifest.websocket.routeSelectionExpression;
  }

  private onClose(connection: Connection, code: number, reason: string): void {
    clearTimeout(connection.idleTimer);
    clearTimeout(connection.hardTimer);
    this.connections.delete(connection.id);
    const target = this.routes.get("$disconnect");
    if (!target) return;
    const headers = { Host: connection.domainName, "X-Forwarded-For": connection.sourceIp };
    const event = {
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
      requestContext: {
        ...this.baseContext(connection),
        routeKey: "$disconnect",
        eventType: "DISCONNECT",
        disconnectStatusCode: code,
        disconnectReason: reason,
        authorizer: connection.authorizer,
      },
      isBase64Encoded: false,
    };
    void this.track(
      this.options.functions.invoke(target, event).catch((error: unknown) => {
        this.options.log.error(`${target} failed on $disconnect`, error);
      }),
    );
  }

  /** `POST @connections/{id}`: false when the connection is gone. */
  post(id: string, data: Buffer): boolean {
    const connection = this.connections.get(id);
    if (!connection || connection.socket.readyState !== WebSocket.OPEN) return false;
    connection.socket.send(data.toString("utf8"));
    connection.lastActiveAt = Date.now();
    return true;
  }

  describe(id: string): ConnectionDescription | undefined {
    const connection = this.connections.get(id);
    if (!connection || connection.socket.readyState !== WebSocket.OPEN) return undefined;
    return {
      connectedAt: new Date(connection.connectedAt),
      lastActiveAt: new Date(connection.lastActiveAt),
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
    };
  }

  /** `DELETE @connections/{id}`: closes the socket; `$disconnect` follows as for any close. */
  disconnect(id: string): boolean {
    const connection = this.connections.get(id);
    if (!connection || connection.socket.readyState !== WebSocket.OPEN) return false;
    connection.socket.close(1000, "");
    return true;
  }

  get size(): number {
    return this.connections.size;
  }

  /** Closes every connection and waits for the `$disconnect` (and any other) invocations to finish. */
  async close(): Promise<void> {
    for (const connection of this.connections.values()) connection.socket.close(1001, "Going away");
    const deadline = Date.now() + 2_000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const connection of this.connections.values()) connection.socket.terminate();
    // A terminated socket reports its close on a later turn; its `$disconnect` must be among the awaited.
    await new Promise((resolve) => setImmediate(resolve));
    await settleWithin(this.pending, STOP_GRACE_MS);
    this.server.close();
  }
}
