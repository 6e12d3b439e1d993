import type { z } from "zod";
import type { RouteRequest } from "#events/client";
import { ApiError } from "./api-error.ts";
import type { TokenStore } from "./token-store.ts";

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions<T> {
  query?: Query;
  body?: unknown;
  /** Checks the response against the shared schema; a mismatch is reported, not rendered half-broken. */
  schema?: z.ZodType<T>;
  /** Public routes (login) go without a token. */
  auth?: boolean;
  signal?: AbortSignal;
}

export class HttpClient {
  constructor(
    private readonly apiUrl: string,
    private readonly tokens: TokenStore,
  ) {}

  /** A request of the contract's client (`#events/client`): its path already carries the query. */
  route(request: RouteRequest): Promise<unknown> {
    return this.request(request.method, request.path, {
      ...(request.body === undefined ? {} : { body: request.body }),
      auth: !request.anonymous,
    });
  }

  private async request<T>(method: string, path: string, options: RequestOptions<T>): Promise<T> {
    const auth = options.auth ?? true;
    let response = await this.send(method, path, options, auth);
    // An access token can be revoked or expire early (clock skew): refresh once, then give up.
    if (auth && response.status === 401 && (await this.tokens.refresh())) {
      response = await this.send(method, path, options, auth);
    }
    if (!response.ok) {
      const error = await ApiError.fromResponse(response);
      if (auth && error.status === 401) this.tokens.clear();
      throw error;
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const data: unknown = text === "" ? undefined : JSON.parse(text);
    if (!options.schema) return data as T;
    const parsed = options.schema.safeParse(data);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new ApiError(response.status, {
      code: "UNEXPECTED_RESPONSE",
      message: `Unexpected response from ${method} ${path}${issue ? `: ${issue.path.join(".") || "body"} ${issue.message}` : ""}`,
      details: parsed.error.issues,
    });
  }

  private async send(method: string, path: string, options: RequestOptions<unknown>, auth: boolean) {
    const headers: Record<string, string> = { accept: "application/json" };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (auth) {
      const token = await this.tokens.accessToken();
      if (token) headers.authorization = `Bearer ${token}`;
    }
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    if (options.signal) init.signal = options.signal;
    return fetch(this.url(path, options.query), init);
  }

  private url(path: string, query: Query | undefined): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    const search = params.toString();
    return `${this.apiUrl}${path}${search ? `?${search}` : ""}`;
  }
}
