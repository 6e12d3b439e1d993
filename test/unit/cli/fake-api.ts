import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: unknown;
}

export type Reply = { status: number; body?: unknown; headers?: Record<string, string>; raw?: string };
export type Route = (request: Recorded) => Reply | Promise<Reply> | undefined;

/**
 * A stand-in for the API on loopback: REST answers come from `route`, WebSocket connections on /ws go to
 * `onSocket`, and every request is kept for the test to inspect.
 */
export class FakeApi {
  readonly requests: Recorded[] = [];
  readonly sockets: { socket: WebSocket; url: URL; received: any[] }[] = [];
  route: Route = () => undefined;
  onSocket: (socket: WebSocket, url: URL, received: any[]) => void = () => {};
  /** Refuses WebSocket handshakes with this status when set. */
  refuseSockets: number | undefined;
  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
  ) {}

  static async start(): Promise<FakeApi> {
    const wss = new WebSocketServer({ noServer: true });
    const server = createServer();
    const api = new FakeApi(server, wss);
    server.on("request", async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://fake");
      const recorded: Recorded = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: text === "" ? undefined : JSON.parse(text),
      };
      api.requests.push(recorded);
      const reply = (await api.route(recorded)) ?? {
        status: 404,
        body: {
          code: "NOT_FOUND",
          message: `No route for ${recorded.method} ${recorded.path}`,
          requestId: "r-404",
        },
      };
      res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
      res.end(reply.raw ?? (reply.body === undefined ? "" : JSON.stringify(reply.body)));
    });
    server.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://fake");
      if (api.refuseSockets !== undefined) {
        socket.end(`HTTP/1.1 ${api.refuseSockets} Refused\r\ncontent-length: 0\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const received: any[] = [];
        api.sockets.push({ socket: ws, url, received });
        ws.on("message", (data) => received.push(JSON.parse(data.toString())));
        api.onSocket(ws, url, received);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Waits until `socket` has received a message matching `predicate`. */
export async function received(
  list: any[],
  predicate: (message: any) => boolean,
  timeoutMs = 5_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = list.find(predicate);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not received; got ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const at = "2025-01-01T00:00:00.000Z";
export const ev = {
  job: (jobId: string, seq: number, status: string, previousStatus?: string) => ({
    type: "job.status_changed",
    jobId,
    seq,
    at,
    status,
    ...(previousStatus === undefined ? {} : { previousStatus }),
  }),
  step: (jobId: string, seq: number, nodeId: string, status: string, attempt = 1) => ({
    type: "step.status_changed",
    jobId,
    seq,
    at,
    nodeId,
    status,
    attempt,
  }),
};

export function jobBody(id: string, status: string, steps: { nodeId: string; status: string }[] = []) {
  return {
    id,
    tenantId: "t1",
    status,
    workflowName: "wf",
    createdAt: at,
    updatedAt: at,
    createdBy: "u1",
    seq: 1,
    priority: "normal",
    steps: steps.map((s) => ({ ...s, type: "code", attempt: 1 })),
    definition: {
      name: "wf",
      nodes: steps.map((s) => ({ id: s.nodeId, type: "code", code: "return 1" })),
    },
  };
}
