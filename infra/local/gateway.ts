import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { manifest } from "#infra/manifest";
import { corsPreflight } from "#infra/stack/gateway-responses";
import type { LocalApiGateway } from "./aws-services/api-gateway.ts";
import { createConnectionsApi, isConnectionsPath } from "./connections-api.ts";
import type { FunctionRunner } from "./functions.ts";
import { sendError } from "./http-utils.ts";
import type { Logger } from "./log.ts";
import { type ApiInfo, createRestApi } from "./rest-api.ts";
import { createStaticFiles } from "./static-files.ts";
import { WebSocketApi } from "./websocket.ts";

export const WEBSOCKET_PATH = "/ws";
/** API Gateway's quota for the URL of a regional API, in characters. */
export const MAX_URL_CHARS = 10_240;
/**
 * Node's default (16 KB for the request line and headers together) would refuse a long URL with a bare 431
 * before the twin could answer; headers beyond this still get 431, with the contract's body.
 */
const MAX_HEADER_BYTES = 64 * 1024;

export interface Gateway {
  port: number;
  /** The stage's allowed browser origins, the dashboard's first (CORS_ALLOW_ORIGIN). */
  allowedOrigins: string[];
  websocket: WebSocketApi;
  /** Lets requests through; until then they wait, so an early browser is not refused. */
  open(): void;
  /** Answers every waiting and later request with 503: startup failed. */
  fail(reason: Error): void;
  close(): Promise<void>;
}

const preflightMethods = [...new Set(manifest.http.routes.map((r) => r.method))].join(",");

/**
 * The stack's preflight, a mock integration: fixed headers, and the caller's origin when it is one of the
 * stage's, else the first of them (which the browser then refuses), as CDK's preflight template does.
 */
function preflight(request: IncomingMessage, response: ServerResponse, allowedOrigins: string[]): void {
  const origin = request.headers.origin;
  const allowOrigin = origin !== undefined && allowedOrigins.includes(origin) ? origin : allowedOrigins[0];
  response.writeHead(204, {
    "access-control-allow-headers": corsPreflight.allowHeaders.join(","),
    ...(allowOrigin === undefined ? {} : { "access-control-allow-origin": allowOrigin }),
    vary: "Origin",
    "access-control-allow-methods": preflightMethods,
    "access-control-max-age": String(corsPreflight.maxAgeSeconds),
  });
  response.end();
}

/**
 * The one port of the local platform: the REST API and the WebSocket API as API Gateway would serve them, the
 * management API of the WebSocket API, and the dashboard as CloudFront would serve it.
 */
export async function startGateway(options: {
  port: number;
  /** Tried first when `port` is 0. */
  preferredPort?: number;
  functions: FunctionRunner;
  info: ApiInfo;
  webRoot: string;
  web: boolean;
  /** Origin of a dashboard served elsewhere (as CloudFront serves it in AWS): the first allowed origin. */
  dashboardOrigin?: string;
  /** Which usage plan each usage key is in: the twin's API Gateway control plane. */
  usage: Pick<LocalApiGateway, "usageFor">;
  log: Logger;
}): Promise<Gateway> {
  const { functions, info, log, usage } = options;
  let port = 0;
  const allowedOrigins = () => [
    ...(options.dashboardOrigin === undefined ? [] : [options.dashboardOrigin]),
    `http://localhost:${port}`,
    `http://127.0.0.1:${port}`,
  ];
  const websocket = new WebSocketApi({ functions, info, log: log.child("websocket") });
  const rest = createRestApi({ functions, info, allowedOrigins, usage, log: log.child("rest") });
  const connections = createConnectionsApi({ websocket });
  // The dashboard served here calls the API on the host it was opened by, so any loopback name works
  // without CORS; a dashboard served elsewhere reads this config too and calls across origins.
  const host = (request: IncomingMessage) => {
    const name = request.headers.host?.replace(/:\d+$/, "");
    return name === "127.0.0.1" || name === "[::1]" ? `${name}:${port}` : `localhost:${port}`;
  };
  const statics = createStaticFiles({
    root: options.webRoot,
    enabled: options.web,
    config: (request) => ({
      apiUrl: `http://${host(request)}`,
      wsUrl: `ws://${host(request)}${WEBSOCKET_PATH}`,
    }),
  });

  let open!: () => void;
  let fail!: (reason: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  ready.catch(() => undefined);

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if ((request.url ?? "").length > MAX_URL_CHARS) {
      const message = `Request URL is longer than the ${MAX_URL_CHARS}-character URL limit`;
      return sendError(response, 414, "URI_TOO_LONG", message, randomUUID());
    }
    const url = new URL(request.url ?? "/", "http://localhost");
    const method = request.method ?? "GET";
    if (isConnectionsPath(url.pathname)) return connections(request, response, url);
    if (method === "OPTIONS" && (url.pathname === "/v1" || url.pathname.startsWith("/v1/"))) {
      return preflight(request, response, allowedOrigins());
    }
    if (rest.handles(method, url.pathname)) return rest.handle(request, response, url);
    if (method === "GET" || method === "HEAD") return statics(request, response, url);
    sendError(response, 404, "NOT_FOUND", `No route for ${method} ${url.pathname}`, randomUUID());
  };

  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (request, response) => {
    ready
      .then(() => route(request, response))
      .catch((error: unknown) => {
        if (!response.headersSent) {
          const starting = error instanceof Error && error.message.startsWith("startup:");
          sendError(
            response,
            starting ? 503 : 500,
            starting ? "SERVICE_UNAVAILABLE" : "INTERNAL",
            starting ? "The local twin failed to start" : "Internal server error",
            randomUUID(),
          );
        } else {
          response.destroy();
        }
        if (!(error instanceof Error && error.message.startsWith("startup:")))
          log.error(`${request.method} ${request.url} failed`, error);
      });
  });

  // Node closes an idle keep-alive socket after 5 s, a hair after fetch's own 4 s: on a busy machine a client
  // then reuses a socket the server is closing and gets ECONNRESET. Keep idle sockets well past any client's.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === "HPE_HEADER_OVERFLOW" && socket.writable) {
      const body = JSON.stringify({
        code: "REQUEST_HEADER_FIELDS_TOO_LARGE",
        message: `Request line and headers are larger than the ${MAX_HEADER_BYTES}-byte limit`,
        requestId: randomUUID(),
      });
      socket.end(
        `HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    // What Node does without a handler.
    if (error.code !== "ECONNRESET" && socket.writable)
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== WEBSOCKET_PATH) {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    ready
      .then(() => websocket.handleUpgrade(request, socket, head, url))
      .catch((error: unknown) => {
        log.error("WebSocket upgrade failed", error);
        socket.end("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      });
  });

  const listen = (candidate: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(candidate, "127.0.0.1", () => {
        server.removeListener("error", reject);
        resolve();
      });
    });
  if (options.port === 0 && options.preferredPort) {
    await listen(options.preferredPort).catch(() => listen(0));
  } else {
    await listen(options.port);
  }
  port = (server.address() as AddressInfo).port;

  return {
    port,
    allowedOrigins: allowedOrigins(),
    websocket,
    open: () => open(),
    fail: (reason) => fail(new Error(`startup: ${reason.message}`)),
    async close() {
      await websocket.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
