/**
 * A typed client for the Switchboard REST API and its WebSocket, built on the `events/` schemas. The CLI is
 * written on it, and other programs may import it: `new SwitchboardClient({ url, apiKey })`.
 */
import WebSocket from "ws";
import { z } from "zod";
import type { ApprovalStatus } from "#events/approvals";
import type { CreateApiKeyRequest } from "#events/auth";
import { type Api, createApi } from "#events/client";
import { ErrorBody } from "#events/errors";
import { type CreateJobRequest, type ListJobsQuery, TERMINAL_JOB_STATUSES } from "#events/jobs";
import { type JobStatusChanged, TimelineEvent } from "#events/timeline";
import { WorkflowDefinition } from "#events/workflow";
import type { Workflow, WorkflowSummary } from "#events/workflows-api";
import { type ClientMessage, ServerMessage } from "#events/ws";

/** Every failure the client reports: an error answer of the API, or a request that got no answer. */
export class SwitchboardError extends Error {
  override name = "SwitchboardError";
  constructor(
    /** The HTTP status; 0 when the request got no answer (network, timeout). */
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

export interface SwitchboardClientOptions {
  /** The REST API's base URL, e.g. `http://localhost:3000` or `https://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  url: string;
  /** An API key (`sb_…`), sent as `x-api-key`. */
  apiKey?: string;
  /** A JWT access token, sent as `Authorization: Bearer`. */
  token?: string;
  /** The WebSocket URL; by default the REST URL's host with `/ws` (the local twin's layout). */
  wsUrl?: string;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** How often a throttled (429) request, or a GET that met a 5xx or no answer, is tried again. */
  retries?: number;
  fetch?: typeof fetch;
}

export const Page = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ items: z.array(item), cursor: z.string().optional() });

/** A workflow definition as written: defaults (retry policy and the like) may be left out. */
export type WorkflowInput = z.input<typeof WorkflowDefinition>;

export { JobDetail } from "#events/jobs";

const EventsPage = Page(TimelineEvent);
export type EventsPage = z.infer<typeof EventsPage>;

export interface RequestOptions<T> {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  schema?: z.ZodType<T>;
  /** Send no credentials (login, refresh). */
  anonymous?: boolean;
}

export interface WatchOptions {
  /**
   * Replay the job's events after this sequence number first (0: the whole timeline). When not given, the
   * REST timeline is read first and the watch starts at the job's current run, so a retried job is not
   * taken as finished by the terminal status of its earlier run.
   */
  since?: number;
  /** Give up after this long, with a SwitchboardError `WATCH_TIMEOUT`. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Backoff between reconnects: base, doubled per failure up to max, with jitter. */
  reconnect?: { baseMs?: number; maxMs?: number; maxAttempts?: number };
  /** How long a gap in the sequence may stay open before the missing events are read over REST. */
  gapFillMs?: number;
  /**
   * With no event for this long, the REST timeline is read too: a socket can stay open while the server
   * has lost track of it (a fanout that got 410 for a connection that had in fact come back).
   */
  quietPollMs?: number;
  /** Told about every (re)connection, for progress output. */
  onConnection?: (state: "open" | "reconnecting", attempt: number) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const _enc = encodeURIComponent;

function retryAfterMs(response: Response, attempt: number): number {
  const header = Number(response.headers.get("retry-after"));
  const fallback = 200 * 2 ** attempt;
  return Math.min(5_000, Number.isFinite(header) && header > 0 ? header * 1000 : fallback);
}

export class SwitchboardClient {
  readonly url: string;
  readonly wsUrl: string;
  private apiKey: string | undefined;
  private token: string | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: SwitchboardClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new SwitchboardError(0, "INVALID_URL", `Not a URL: ${options.url}`);
    }
    this.url = base.href.replace(/\/+$/, "");
    this.wsUrl = options.wsUrl ?? `${base.protocol === "https:" ? "wss:" : "ws:"}//${base.host}/ws`;
    this.apiKey = options.apiKey;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 2;
    this.fetchImpl = options.fetch ?? fetch;
    this.api = createApi(
      (request) =>
        this.request(request.method, request.path, {
          ...(request.body === undefined ? {} : { body: request.body }),
          anonymous: request.anonymous,
        }),
      // Answers that break the contract are reported like the API's own errors.
      { mismatch: (error) => new SwitchboardError(0, "UNEXPECTED_RESPONSE", error.message, error.issues) },
    );
  }

  /** Every route of the contract, by operation id: `client.api.getJob({ params: { id } })`. */
  readonly api: Api;

  /** After a login or a refresh: later requests carry this token. */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  private credentials(): Record<string, string> {
    if (this.apiKey !== undefined) return { "x-api-key": this.apiKey };
    if (this.token !== undefined) return { authorization: `Bearer ${this.token}` };
    return {};
  }

  /** One REST call; the answer is checked against `schema` when one is given. */
  async request<T = unknown>(method: string, path: string, options: RequestOptions<T> = {}): Promise<T> {
    const url = new URL(`${this.url}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== "") url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = {
      accept: "application/json",
      ...(options.anonymous === true ? {} : this.credentials()),
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
    };
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchImpl(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        // Without an answer a mutation may or may not have happened, so only reads are sent again.
        if (method === "GET" && attempt < this.retries) {
          await sleep(200 * 2 ** attempt);
          continue;
        }
        const cause = error instanceof Error ? (error.cause ?? error) : error;
        const reason = cause instanceof Error ? cause.message : String(cause);
        const timedOut = error instanceof Error && error.name === "TimeoutError";
        throw new SwitchboardError(
          0,
          timedOut ? "TIMEOUT" : "NETWORK_ERROR",
          timedOut
            ? `${method} ${url.pathname} got no answer within ${this.timeoutMs} ms`
            : `Could not reach ${this.url}: ${reason}`,
        );
      }
      const retryable = response.status === 429 || (method === "GET" && response.status >= 500);
      if (retryable && attempt < this.retries) {
        await response.body?.cancel();
        await sleep(retryAfterMs(response, attempt));
        continue;
      }
      return this.read(response, method, url, options.schema);
    }
  }

  private async read<T>(response: Response, method: string, url: URL, schema?: z.ZodType<T>): Promise<T> {
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (!response.ok) {
      const error = ErrorBody.safeParse(parsed);
      const requestId =
        (error.success ? error.data.requestId : undefined) ??
        response.headers.get("x-amzn-requestid") ??
        response.headers.get("x-request-id") ??
        undefined;
      if (error.success) {
        throw new SwitchboardError(
          response.status,
          error.data.code,
          error.data.message,
          error.data.details,
          requestId,
        );
      }
      // Answers that are not the API's own (a proxy, the gateway's size limit) keep their text as the message.
      const message =
        typeof parsed === "string" && parsed !== "" ? parsed.slice(0, 500) : response.statusText;
      throw new SwitchboardError(response.status, `HTTP_${response.status}`, message, parsed, requestId);
    }
    if (schema === undefined) return parsed as T;
    const checked = schema.safeParse(parsed);
    if (!checked.success) {
      throw new SwitchboardError(
        response.status,
        "UNEXPECTED_RESPONSE",
        `${method} ${url.pathname} answered with a body that does not match its schema`,
        checked.error.issues,
      );
    }
    return checked.data;
  }

  health() {
    return this.api.health();
  }

  /** Signs in; the client then uses the access token (unless it was given an API key). */
  async login(email: string, password: string) {
    const tokens = await this.api.login({ body: { email, password } });
    this.token = tokens.accessToken;
    return tokens;
  }

  async refresh(refreshToken: string) {
    const tokens = await this.api.refresh({ body: { refreshToken } });
    this.token = tokens.accessToken;
    return tokens;
  }

  me() {
    return this.api.me();
  }

  /** Follows the cursor of a list route until the last page. */
  async *paginate<T>(page: (cursor?: string) => Promise<{ items: T[]; cursor?: string }>): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const result = await page(cursor);
      yield* result.items;
      cursor = result.cursor;
    } while (cursor !== undefined && cursor !== "");
  }

  readonly jobs = {
    create: (body: z.input<typeof CreateJobRequest>) => this.api.createJob({ body }),
    get: (id: string) => this.api.getJob({ params: { id } }),
    list: (query: Partial<Omit<ListJobsQuery, "limit">> & { limit?: number } = {}) =>
      this.api.listJobs({ query }),
    events: (id: string, since = 0) => this.api.getJobEvents({ params: { id }, query: { since } }),
    cancel: (id: string) => this.api.cancelJob({ params: { id } }),
    retry: (id: string) => this.api.retryJob({ params: { id } }),
    bulk: (action: "cancel" | "retry", ids: string[]) => this.api.bulkJobs({ body: { action, ids } }),
  };

  readonly workflows = {
    list: (cursor?: string) => this.api.listWorkflows({ query: { cursor } }),
    get: (id: string) => this.api.getWorkflow({ params: { id } }),
    create: (definition: WorkflowInput) => this.api.createWorkflow({ body: definition }),
    /** A PUT makes a new version. */
    update: (id: string, definition: WorkflowInput) =>
      this.api.updateWorkflow({ params: { id }, body: definition }),
    delete: (id: string) => this.api.deleteWorkflow({ params: { id } }),
    validate: (definition: WorkflowInput) => this.api.validateWorkflow({ body: definition }),
    versions: (id: string, cursor?: string) =>
      this.api.listWorkflowVersions({ params: { id }, query: { cursor } }),
    findByName: async (name: string): Promise<WorkflowSummary | undefined> => {
      for await (const workflow of this.paginate((cursor) => this.workflows.list(cursor))) {
        if (workflow.name === name) return workflow;
      }
      return undefined;
    },
    /**
     * Apply by name: creates the workflow, or puts a new version when one of that name exists and its
     * latest definition differs. An identical definition makes no version.
     */
    apply: async (
      definition: WorkflowInput,
    ): Promise<{ action: "created" | "updated" | "unchanged"; workflow: Workflow }> => {
      const existing = await this.workflows.findByName(definition.name);
      if (existing === undefined)
        return { action: "created", workflow: await this.workflows.create(definition) };
      const current = await this.workflows.get(existing.id);
      // Both sides through the schema, so defaults the server filled in do not count as a change.
      if (sameJson(WorkflowDefinition.parse(current.definition), WorkflowDefinition.parse(definition))) {
        return { action: "unchanged", workflow: current };
      }
      return { action: "updated", workflow: await this.workflows.update(existing.id, definition) };
    },
  };

  readonly approvals = {
    list: (query: { status?: ApprovalStatus; jobId?: string; cursor?: string } = { status: "pending" }) =>
      this.api.listApprovals({ query }),
    get: (id: string) => this.api.getApproval({ params: { id } }),
    decide: (id: string, decision: "approve" | "reject", comment?: string) =>
      this.api.decideApproval({
        params: { id },
        body: comment === undefined ? { decision } : { decision, comment },
      }),
  };

  readonly apiKeys = {
    create: (body: z.input<typeof CreateApiKeyRequest>) => this.api.createApiKey({ body }),
    list: (cursor?: string) => this.api.listApiKeys({ query: { cursor } }),
    revoke: (id: string) => this.api.revokeApiKey({ params: { id } }),
  };

  /**
   * Follows one job over the WebSocket until it ends. Subscribes with `since`, so a reconnect (with
   * jittered backoff) replays what was missed; events reach `onEvent` once each and in sequence order,
   * and a gap that does not close by itself is filled from the REST timeline. Resolves with the job's
   * terminal `job.status_changed` event.
   */
  watch(
    jobId: string,
    onEvent: (event: TimelineEvent) => void,
    options: WatchOptions = {},
  ): Promise<z.infer<typeof JobStatusChanged>> {
    return new JobWatch(this, jobId, onEvent, options).run();
  }

  /** The credential the WebSocket carries in its query string. */
  socketToken(): string | undefined {
    return this.apiKey ?? this.token;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
      );
    }
    return value;
  };
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

type Terminal = z.infer<typeof JobStatusChanged>;

/** One watch: its socket, its place in the sequence, and the events that arrived ahead of a gap. */
class JobWatch {
  private nextSeq: number;
  private readonly ahead = new Map<number, TimelineEvent>();
  private socket: WebSocket | undefined;
  private failures = 0;
  private done = false;
  private gapTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private filling = false;
  private resolve!: (event: Terminal) => void;
  private reject!: (error: Error) => void;

  constructor(
    private readonly client: SwitchboardClient,
    private readonly jobId: string,
    private readonly onEvent: (event: TimelineEvent) => void,
    private readonly options: WatchOptions,
  ) {
    this.nextSeq = (options.since ?? 0) + 1;
  }

  run(): Promise<Terminal> {
    const result = new Promise<Terminal>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (this.options.timeoutMs !== undefined) {
      this.deadline = setTimeout(
        () =>
          this.fail(
            new SwitchboardError(
              0,
              "WATCH_TIMEOUT",
              `Job ${this.jobId} did not finish within ${this.options.timeoutMs} ms`,
            ),
          ),
        this.options.timeoutMs,
      );
    }
    const signal = this.options.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.fail(new SwitchboardError(0, "ABORTED", "The watch was aborted"));
      signal.addEventListener(
        "abort",
        () => this.fail(new SwitchboardError(0, "ABORTED", "The watch was aborted")),
        {
          once: true,
        },
      );
    }
    void this.start();
    return result;
  }

  private async start(): Promise<void> {
    if (this.options.since === undefined) {
      let history: TimelineEvent[];
      try {
        history = await this.history();
      } catch (error) {
        this.fail(error as Error);
        return;
      }
      // A retried job has ended before: its current run starts after the last status that was followed by another.
      const statuses = history.filter((e) => e.type === "job.status_changed");
      const superseded = statuses
        .slice(0, -1)
        .filter((e) => TERMINAL_JOB_STATUSES.includes((e as Terminal).status))
        .at(-1);
      this.nextSeq = (superseded?.seq ?? 0) + 1;
      this.accept(history);
    }
    if (!this.done) {
      this.connect();
      this.armQuietPoll();
    }
  }

  /** The whole timeline over REST, page by page. */
  private async history(): Promise<TimelineEvent[]> {
    const events: TimelineEvent[] = [];
    let since = 0;
    for (;;) {
      const page = await this.client.jobs.events(this.jobId, since);
      events.push(...page.items);
      const last = page.items.at(-1);
      if (last === undefined || page.cursor === undefined) return events;
      since = last.seq;
    }
  }

  private connect(): void {
    if (this.done) return;
    const token = this.client.socketToken();
    const url = new URL(this.client.wsUrl);
    if (token !== undefined) url.searchParams.set("token", token);
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.on("open", () => {
      this.options.onConnection?.("open", this.failures);
      const subscribe: ClientMessage = {
        action: "subscribe",
        jobId: this.jobId,
        since: this.nextSeq - 1,
        batch: true,
      };
      socket.send(JSON.stringify(subscribe));
      // API Gateway closes a WebSocket that is idle for 10 minutes; a job may wait longer than that.
      this.pingTimer = setInterval(() => socket.send(JSON.stringify({ action: "ping" })), 5 * 60_000);
      this.pingTimer.unref();
    });
    socket.on("message", (data) => {
      this.onMessage(data.toString());
    });
    socket.on("unexpected-response", (_request, response) => {
      // The handshake was refused: bad credentials are final, a gateway hiccup is not.
      const status = response.statusCode ?? 0;
      response.resume();
      if (status === 401 || status === 403) {
        this.fail(new SwitchboardError(status, "UNAUTHORIZED", "The WebSocket refused the credentials"));
      }
      socket.terminate();
    });
    socket.on("error", () => {
      // `close` follows and decides whether to reconnect.
    });
    socket.on("close", () => {
      clearInterval(this.pingTimer);
      if (this.socket === socket) this.socket = undefined;
      if (this.done) return;
      // Counted whether or not the socket opened, so a server that drops every connection at once still backs
      // off; a `subscribed` answer resets it.
      this.failures++;
      this.options.onConnection?.("reconnecting", this.failures);
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const { baseMs = 250, maxMs = 5_000, maxAttempts = 20 } = this.options.reconnect ?? {};
    if (this.failures >= maxAttempts) {
      this.fail(
        new SwitchboardError(
          0,
          "WEBSOCKET_UNAVAILABLE",
          `Could not connect to ${this.client.wsUrl} after ${this.failures} attempts`,
        ),
      );
      return;
    }
    const delay = Math.min(maxMs, baseMs * 2 ** (this.failures - 1)) * (0.5 + Math.random() / 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    // While the socket is down the REST timeline still answers, so a job that ends meanwhile is seen.
    void this.catchUp();
  }

  private onMessage(raw: string): void {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return;
    }
    const parsed = ServerMessage.safeParse(json);
    if (!parsed.success) return;
    const message = parsed.data;
    if (message.type === "subscribed") {
      this.failures = 0;
      return;
    }
    if (message.type === "error") {
      this.fail(new SwitchboardError(message.code === "NOT_FOUND" ? 404 : 0, message.code, message.message));
      return;
    }
    if (message.type === "batch") {
      if (message.jobId === this.jobId) this.accept(message.events);
      return;
    }
    if (!("seq" in message) || !("jobId" in message) || message.jobId !== this.jobId) return;
    const event = TimelineEvent.safeParse(message);
    if (event.success) this.accept([event.data]);
  }

  private armQuietPoll(): void {
    clearTimeout(this.quietTimer);
    if (this.done) return;
    this.quietTimer = setTimeout(async () => {
      await this.catchUp();
      this.armQuietPoll();
    }, this.options.quietPollMs ?? 15_000);
  }

  /** Delivers events in sequence order, once each; events past a gap wait for it to close. */
  private accept(events: TimelineEvent[]): void {
    if (this.done) return;
    if (events.some((event) => event.seq >= this.nextSeq)) this.armQuietPoll();
    for (const event of events) {
      if (event.seq >= this.nextSeq) this.ahead.set(event.seq, event);
    }
    for (
      let event = this.ahead.get(this.nextSeq);
      event !== undefined;
      event = this.ahead.get(this.nextSeq)
    ) {
      this.ahead.delete(this.nextSeq);
      this.nextSeq++;
      this.onEvent(event);
      if (event.type === "job.status_changed" && TERMINAL_JOB_STATUSES.includes(event.status)) {
        this.finish(event);
        return;
      }
    }
    clearTimeout(this.gapTimer);
    if (this.ahead.size > 0) {
      this.gapTimer = setTimeout(() => void this.catchUp(), this.options.gapFillMs ?? 1_000);
    }
  }

  /** Reads the events after the last delivered one over REST. */
  private async catchUp(): Promise<void> {
    if (this.done || this.filling) return;
    this.filling = true;
    try {
      const page = await this.client.jobs.events(this.jobId, this.nextSeq - 1);
      this.accept(page.items);
    } catch {
      // The socket is still the main source; the next event past the gap arms another try.
    } finally {
      this.filling = false;
    }
  }

  private finish(event: Terminal): void {
    if (this.done) return;
    this.cleanup();
    this.resolve(event);
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.cleanup();
    this.reject(error);
  }

  private cleanup(): void {
    this.done = true;
    clearTimeout(this.gapTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.deadline);
    clearTimeout(this.quietTimer);
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined && socket.readyState !== WebSocket.CLOSED) socket.close();
  }
}
