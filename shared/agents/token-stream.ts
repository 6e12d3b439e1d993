import type { ServerMessage } from "#events/ws";
import { logger } from "../observability.ts";
import { sendToConnection } from "../sockets.ts";
import { listeningSubscribers } from "../stores/connections.ts";

/**
 * Streams an agent's tokens straight to the connections subscribed to its job (or to all of its tenant's
 * jobs) through the API Gateway management API. Tokens are too many for the table's stream, so they never
 * touch the table: the full text is stored once, as the step's output.
 *
 * Coalescing: the first token goes out at once (time to first token is what people notice); after that,
 * at most one message per `intervalMs`, carrying everything that arrived in between. Subscribers are looked
 * up when the step starts and again every `refreshMs` (one read of the tenant's subscription count while it
 * holds none); with nobody listening nothing is sent.
 */

export interface TokenStreamOptions {
  tenantId: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  intervalMs?: number;
  refreshMs?: number;
  /** Injected in tests. */
  lookup?: (tenantId: string, jobId: string) => Promise<string[]>;
  send?: (connectionId: string, message: ServerMessage) => Promise<"sent" | "gone">;
}

export const TOKEN_INTERVAL_MS = 50;
/** At most this much earlier text goes to a connection that joins mid-step, to stay far below a frame's limit. */
export const MAX_CATCH_UP_CHARS = 24 * 1024;
export const SUBSCRIBER_REFRESH_MS = 3_000;

export class TokenStream {
  private buffer = "";
  private index = 0;
  private lastFlush = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  /** The latest known subscribers; `firstLookup` settles when the first list is in. */
  private subscribers: string[] = [];
  private readonly firstLookup: Promise<void>;
  private lookedUpAt = Date.now();
  private refreshing = false;
  private readonly gone = new Set<string>();
  /** The text delivered so far, and the connections that have it: a new one is sent all of it first. */
  private delivered = "";
  private readonly caughtUp = new Set<string>();
  private readonly intervalMs: number;
  private readonly refreshMs: number;
  private readonly lookup: NonNullable<TokenStreamOptions["lookup"]>;
  private readonly send: NonNullable<TokenStreamOptions["send"]>;
  /** Messages sent and tokens pushed, for logs and tests. */
  readonly stats = { tokens: 0, messages: 0, deliveries: 0 };

  constructor(private readonly options: TokenStreamOptions) {
    this.intervalMs = options.intervalMs ?? TOKEN_INTERVAL_MS;
    this.refreshMs = options.refreshMs ?? SUBSCRIBER_REFRESH_MS;
    this.lookup =
      options.lookup ??
      (async (tenantId, jobId) =>
        (await listeningSubscribers(tenantId, jobId)).map((subscriber) => subscriber.connectionId));
    this.send = options.send ?? sendToConnection;
    // Started now, so the list is usually ready before the model's first token.
    this.firstLookup = this.refresh();
  }

  private async refresh(): Promise<void> {
    this.refreshing = true;
    this.lookedUpAt = Date.now();
    try {
      this.subscribers = await this.lookup(this.options.tenantId, this.options.jobId);
    } catch (error) {
      logger.warn("Could not look up token subscribers", { error: (error as Error).name });
    } finally {
      this.refreshing = false;
    }
  }

  /** Adds a piece of text; sends it now or with the next coalesced message. */
  push(text: string): void {
    if (text === "") return;
    this.stats.tokens++;
    this.buffer += text;
    if (this.timer !== undefined) return;
    const wait = this.lastFlush + this.intervalMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffer === "") return;
    const text = this.buffer;
    this.buffer = "";
    this.lastFlush = Date.now();
    const index = this.index++;
    // Connections that subscribe mid-step are picked up here; the known list serves until then.
    if (!this.refreshing && Date.now() - this.lookedUpAt > this.refreshMs) void this.refresh();
    // Messages go out in order: each waits for the one before it.
    this.inFlight = this.inFlight.then(() => this.deliver(text, index));
  }

  private async deliver(text: string, index: number): Promise<void> {
    await this.firstLookup;
    const before = this.delivered;
    this.delivered += text;
    const connections = this.subscribers.filter((id) => !this.gone.has(id));
    if (connections.length === 0) return;
    const messageOf = (piece: string, offset: number): ServerMessage => ({
      type: "agent.token",
      at: new Date().toISOString(),
      jobId: this.options.jobId,
      nodeId: this.options.nodeId,
      ...(this.options.itemIndex === undefined ? {} : { itemIndex: this.options.itemIndex }),
      text: piece,
      index,
      offset,
    });
    const next = messageOf(text, before.length);
    const catchUpFrom = Math.max(0, this.delivered.length - MAX_CATCH_UP_CHARS);
    const catchUp = messageOf(this.delivered.slice(catchUpFrom), catchUpFrom);
    this.stats.messages++;
    await Promise.all(
      connections.map(async (connectionId) => {
        const message = this.caughtUp.has(connectionId) ? next : catchUp;
        try {
          if ((await this.send(connectionId, message)) === "gone") this.gone.add(connectionId);
          else {
            this.caughtUp.add(connectionId);
            this.stats.deliveries++;
          }
        } catch (error) {
          // Streaming is best effort: a failed send never fails the step.
          logger.warn("Could not send an agent token message", {
            connectionId,
            error: (error as Error).name,
          });
        }
      }),
    );
  }

  /** Sends what is left and waits for every message to go out. */
  async close(): Promise<void> {
    this.flush();
    await this.inFlight;
  }
}
