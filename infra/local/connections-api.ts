import type { IncomingMessage, ServerResponse } from "node:http";
import { PayloadTooLargeError, readBody } from "./http-utils.ts";
import { MAX_MESSAGE_BYTES, type WebSocketApi } from "./websocket.ts";

/** `/@connections/{id}`, optionally behind a stage (`/local/@connections/{id}`), as callback URLs may carry one. */
const PATH = /^(?:\/[^/]+)?\/@connections\/([^/]+)$/;

export function isConnectionsPath(pathname: string): boolean {
  return PATH.test(pathname);
}

function awsError(response: ServerResponse, statusCode: number, type: string, message: string | null): void {
  const body = JSON.stringify({ message });
  response.writeHead(statusCode, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    "x-amzn-errortype": type,
  });
  response.end(body);
}

/**
 * The API Gateway management API, served on the gateway's own port as AWS serves it on the API's domain.
 * A gone connection answers 410 with `x-amzn-errortype: GoneException`, which the SDK raises as `GoneException`.
 * Requests are not checked for a SigV4 signature.
 */
export function createConnectionsApi(options: { websocket: WebSocketApi }) {
  return async function handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const match = PATH.exec(url.pathname);
    let connectionId = match?.[1] ?? "";
    try {
      connectionId = decodeURIComponent(connectionId);
    } catch {
      // Left as sent: no connection has such an id, so the answer is 410.
    }
    const { websocket } = options;
    switch (request.method) {
      case "POST": {
        let data: Buffer;
        try {
          data = await readBody(request, MAX_MESSAGE_BYTES);
        } catch (error) {
          if (error instanceof PayloadTooLargeError) {
            return awsError(response, 413, "PayloadTooLargeException", "Message too long");
          }
          throw error;
        }
        if (!websocket.post(connectionId, data)) return awsError(response, 410, "GoneException", null);
        response.writeHead(200, { "content-length": "0" });
        response.end();
        return;
      }
      case "GET": {
        const connection = websocket.describe(connectionId);
        if (!connection) return awsError(response, 410, "GoneException", null);
        const body = JSON.stringify({
          connectedAt: connection.connectedAt.toISOString(),
          identity: connection.identity,
          lastActiveAt: connection.lastActiveAt.toISOString(),
        });
        response.writeHead(200, {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
        });
        response.end(body);
        return;
      }
      case "DELETE": {
        if (!websocket.disconnect(connectionId)) return awsError(response, 410, "GoneException", null);
        response.writeHead(204);
        response.end();
        return;
      }
      default:
        return awsError(response, 403, "ForbiddenException", "Missing Authentication Token");
    }
  };
}
