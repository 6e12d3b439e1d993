import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { SwitchboardClient } from "../../cli/client.ts";

export const ADMIN_EMAIL = "admin@switchboard.test";
export const ADMIN_PASSWORD = "correct-horse-battery-staple";

export interface Platform {
  url: string;
  wsUrl: string;
  token: string;
  api: <T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => Promise<ApiResult<T>>;
  /** The typed client of the contract, signed in as the admin: `platform.client.api.getJob({ params: { id } })`. */
  client: SwitchboardClient;
  stop: () => Promise<void>;
  twin: Awaited<ReturnType<typeof import("#infra/local/twin").startTwin>>;
}

export interface ApiResult<T> {
  status: number;
  body: T;
  headers: Headers;
}

export async function request<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResult<T>> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: (text === "" ? undefined : JSON.parse(text)) as T,
    headers: response.headers,
  };
}

export async function login(base: string, email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<string> {
  try {
    const tokens = await new SwitchboardClient({ url: base, retries: 0 }).login(email, password);
    return tokens.accessToken;
  } catch (error) {
    throw new Error(`login failed: ${(error as Error).message}`);
  }
}

/**
 * The suite's shared DynamoDB Local (test/support/shared-dynamodb.ts), with an access key of this platform's
 * own, so its tables are its own; undefined outside such a suite (the bench), where the twin starts one.
 */
export async function sharedDynamoDb(): Promise<{ endpoint: string; accessKeyId: string } | undefined> {
  if (process.env.VITEST === undefined) return undefined;
  const { inject } = await import("vitest");
  const endpoint = inject("sharedDynamoDb");
  return endpoint === undefined
    ? undefined
    : { endpoint, accessKeyId: `p${randomUUID().replaceAll("-", "")}` };
}

/**
 * Starts the whole platform on loopback in a fresh data directory, and signs the admin in. `ownDynamoDb`
 * starts a DynamoDB Local of its own, for tests that kill or restart it.
 */
export async function startPlatform(
  options: Record<string, unknown> & {
    ownDynamoDb?: boolean;
    /**
     * SWITCHBOARD_START_CHAIN_MS for this file's process: 0 sends every step through the queue to the workers,
     * for files whose subject is the worker's side of a job (deliveries, crashes, fairness between tenants).
     */
    startChainMs?: number;
  } = {},
): Promise<Platform> {
  const { startTwin } = await import("#infra/local/twin");
  const { ownDynamoDb, startChainMs, ...twinOptions } = options;
  if (startChainMs !== undefined) process.env.SWITCHBOARD_START_CHAIN_MS = String(startChainMs);
  const dataDir = await mkdtemp(join(tmpdir(), "switchboard-test-"));
  const shared = ownDynamoDb ? undefined : await sharedDynamoDb();
  const twin = await startTwin({
    port: 0,
    dataDir,
    adminEmail: ADMIN_EMAIL,
    adminPassword: ADMIN_PASSWORD,
    quiet: true,
    ...(shared === undefined ? {} : { dynamodb: shared }),
    ...twinOptions,
  });
  const token = await login(twin.url);
  return {
    url: twin.url,
    wsUrl: twin.wsUrl,
    token,
    twin,
    client: new SwitchboardClient({ url: twin.url, wsUrl: twin.wsUrl, token }),
    api: (method, path, body, headers = {}) =>
      request(twin.url, method, path, body, { authorization: `Bearer ${token}`, ...headers }),
    stop: async () => {
      await twin.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A WebSocket client that keeps every message, so tests can wait for the one they need. */
export class SocketClient {
  readonly messages: any[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.messages.push(JSON.parse(data.toString()));
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async open(wsUrl: string, token: string): Promise<SocketClient> {
    const socket = new WebSocket(`${wsUrl}?token=${encodeURIComponent(token)}`);
    const client = new SocketClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
      socket.once("unexpected-response", (_req, res) =>
        reject(new Error(`WebSocket refused: ${res.statusCode}`)),
      );
    });
    return client;
  }

  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  async waitFor(predicate: (message: any) => boolean, timeoutMs = 20_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `No matching WebSocket message within ${timeoutMs} ms; got ${JSON.stringify(this.messages.slice(-10))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close();
    });
  }
}

export async function waitForJob(platform: Platform, jobId: string, statuses: string[], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job: any = await platform.client.api.getJob({ params: { id: jobId } });
    if (statuses.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`Job ${jobId} is ${job.status}, not ${statuses.join("|")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
