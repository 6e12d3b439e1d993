import { type ClientMessage, ServerMessage } from "#events/ws";
import type { TokenStore } from "./token-store.ts";

export type LiveMessage = ServerMessage;
export type LiveListener = (message: LiveMessage) => void;
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting";

interface Subscription {
  /** Built at send time, so a resubscription after a drop asks for what came after the last seen event. */
  message: () => ClientMessage;
  listeners: Set<LiveListener>;
}

const PING_EVERY_MS = 20_000;
/** A socket that answers nothing for this long is dead even if the browser has not noticed. */
const SILENCE_LIMIT_MS = 10_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15_000;

/**
 * The dashboard's one WebSocket. Pages register subscriptions; the socket connects while there is at
 * least one, reconnects with capped, jittered backoff, and on every (re)connect sends each subscription
 * again. Job subscriptions carry `since`, so the server replays what was missed while disconnected.
 */
export class LiveSocket {
  private ws: WebSocket | null = null;
  private subs = new Map<string, Subscription>();
  private stateListeners = new Set<() => void>();
  private state: ConnectionState = "idle";
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private silenceTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** True while a connect waits for a token, so a second subscriber does not open a second socket. */
  private opening = false;

  constructor(
    private readonly wsUrl: string,
    private readonly tokens: TokenStore,
  ) {
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  readonly subscribeState = (listener: () => void): (() => void) => {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  };

  readonly getState = (): ConnectionState => this.state;

  /** Every job of the caller's tenant. */
  subscribeAll(listener: LiveListener): () => void {
    return this.add("all", () => ({ action: "subscribe", all: true, batch: true }), listener);
  }

  /** One job, replaying the events after `since()` first. */
  subscribeJob(jobId: string, since: () => number, listener: LiveListener): () => void {
    return this.add(
      `job:${jobId}`,
      () => ({ action: "subscribe", jobId, since: since(), batch: true }),
      listener,
    );
  }

  /** Signing out: close for good and forget every subscription. */
  stop(): void {
    this.stopped = true;
    this.subs.clear();
    this.teardown();
    this.setState("idle");
  }

  /** Signing in again after `stop()`. */
  resume(): void {
    this.stopped = false;
    if (this.subs.size > 0) void this.connect();
  }

  private add(key: string, message: () => ClientMessage, listener: LiveListener): () => void {
    let sub = this.subs.get(key);
    if (!sub) {
      sub = { message, listeners: new Set() };
      this.subs.set(key, sub);
      if (this.ws?.readyState === WebSocket.OPEN) this.send(message());
    }
    sub.listeners.add(listener);
    if (!this.ws && !this.retryTimer && !this.opening) void this.connect();
    return () => {
      const current = this.subs.get(key);
      if (!current) return;
      current.listeners.delete(listener);
      if (current.listeners.size > 0) return;
      this.subs.delete(key);
      const unsubscribe: ClientMessage =
        key === "all" ? { action: "unsubscribe", all: true } : { action: "unsubscribe", jobId: key.slice(4) };
      if (this.ws?.readyState === WebSocket.OPEN) this.send(unsubscribe);
    };
  }

  private async connect(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.stopped || this.ws || this.opening || this.subs.size === 0) return;
    this.setState(this.failures === 0 ? "connecting" : "reconnecting");
    this.opening = true;
    let token: string | null;
    try {
      // After failed handshakes the token is the likeliest cause, and the browser does not say why.
      if (this.failures > 0 && this.failures % 3 === 0) await this.tokens.refresh();
      token = await this.tokens.accessToken();
    } finally {
      this.opening = false;
    }
    if (this.stopped || this.ws) return;
    if (!token) {
      this.setState("idle");
      return;
    }
    const url = new URL(this.wsUrl);
    url.searchParams.set("token", token);
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      // "open" waits for the server's first answer (the subscription acknowledgements), so the dashboard
      // only says it is live once events will actually arrive.
      for (const sub of this.subs.values()) this.send(sub.message());
      this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
    };
    ws.onmessage = (event) => this.receive(event.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.teardown();
      this.scheduleReconnect();
    };
    // `onerror` is always followed by `onclose`, which does the work.
    ws.onerror = () => {};
  }

  private receive(data: unknown): void {
    this.heard();
    // Backoff resets only once the server talks, so one that accepts and hangs up at once is not hammered.
    this.failures = 0;
    this.setState("open");
    if (typeof data !== "string") return;
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    const parsed = ServerMessage.safeParse(json);
    if (!parsed.success) return;
    // Listeners take one event at a time; a batch frame is its events in order.
    const messages = parsed.data.type === "batch" ? parsed.data.events : [parsed.data];
    for (const message of messages) this.dispatch(message);
  }

  private dispatch(message: ServerMessage): void {
    const jobId = "jobId" in message ? message.jobId : undefined;
    const targets = new Set<LiveListener>();
    const keys = message.type === "error" ? [...this.subs.keys()] : jobId ? [`job:${jobId}`, "all"] : [];
    for (const key of keys) for (const listener of this.subs.get(key)?.listeners ?? []) targets.add(listener);
    for (const listener of targets) listener(message);
  }

  private ping(): void {
    this.send({ action: "ping" });
    if (!this.silenceTimer) {
      this.silenceTimer = setTimeout(() => this.drop(), SILENCE_LIMIT_MS);
    }
  }

  private heard(): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = undefined;
  }

  /** Gives up on the current socket and reconnects; used when the network is known to be gone. */
  private drop(): void {
    if (!this.ws) return;
    this.teardown();
    this.scheduleReconnect();
  }

  private teardown(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.silenceTimer);
    clearTimeout(this.retryTimer);
    this.pingTimer = undefined;
    this.silenceTimer = undefined;
    this.retryTimer = undefined;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.subs.size === 0) {
      this.setState("idle");
      return;
    }
    this.setState("reconnecting");
    // With no network every attempt fails; the `online` event reconnects at once instead.
    if (!navigator.onLine) return;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.failures);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.failures += 1;
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private send(message: ClientMessage): void {
    this.ws?.send(JSON.stringify(message));
  }

  private readonly onOnline = (): void => {
    if (this.ws || this.stopped) return;
    this.failures = 0;
    void this.connect();
  };

  private readonly onOffline = (): void => this.drop();

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener();
  }
}
