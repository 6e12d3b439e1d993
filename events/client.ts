/**
 * The typed REST client every caller shares (the CLI, the dashboard, the tests), derived from the contract in
 * `routes.ts`: one method per route, named by its operation id, taking the route's path parameters, query and
 * body and answering with its response type. How a request travels (fetch, credentials, retries, token
 * refresh) is the caller's `send`; building the request and checking the answer are done here, once.
 */
import type { z } from "zod";
import { type RouteContract, type RouteId, type Routes, routes } from "./routes.ts";

type PathParams<P extends string> = P extends `${string}{${infer K}}${infer Rest}`
  ? K | PathParams<Rest>
  : never;
type Input<T> = T extends z.ZodType ? z.input<T> : never;
type Output<T> = T extends z.ZodType ? z.output<T> : undefined;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

type ParamsPart<R> = R extends { path: infer P extends string }
  ? [PathParams<P>] extends [never]
    ? unknown
    : { params: Record<PathParams<P>, string | number> }
  : unknown;
type BodyPart<R> = R extends { body: infer B } ? { body: Input<B> } : unknown;
type QueryPart<R> = R extends { query: infer Q } ? { query?: Partial<Input<Q>> } : unknown;

/** What a route's method takes: `params` for the path, `query`, `body`. */
export type RouteInput<Id extends RouteId> = Simplify<
  ParamsPart<Routes[Id]> & BodyPart<Routes[Id]> & QueryPart<Routes[Id]>
>;
/** What a route answers on success (`undefined` for 204). */
export type RouteOutput<Id extends RouteId> = Output<
  Routes[Id] extends { response: infer R } ? R : undefined
>;

type Requires<T> = Record<never, never> extends T ? false : true;
export type Api = {
  [Id in RouteId]: Requires<RouteInput<Id>> extends true
    ? (input: RouteInput<Id>) => Promise<RouteOutput<Id>>
    : (input?: RouteInput<Id>) => Promise<RouteOutput<Id>>;
};

/** One request, ready to send: the path has its parameters filled in and the query is encoded. */
export interface RouteRequest {
  id: RouteId;
  method: RouteContract["method"];
  /** Path and query string, to append to the API's base URL: `/v1/jobs/abc/events?since=3`. */
  path: string;
  body?: unknown;
  /** A public route: sent without credentials. */
  anonymous: boolean;
}

/** Sends a request and answers with the parsed JSON body (undefined when empty), or throws for an error answer. */
export type Send = (request: RouteRequest) => Promise<unknown>;

/** The answer did not have the shape the contract gives it. */
export class UnexpectedResponseError extends Error {
  override name = "UnexpectedResponseError";
  constructor(
    readonly request: RouteRequest,
    readonly issues: z.core.$ZodIssue[],
  ) {
    const issue = issues[0];
    super(
      `${request.method} ${request.path} answered with a body that does not match its schema` +
        (issue === undefined ? "" : `: ${issue.path.join(".") || "body"} ${issue.message}`),
    );
  }
}

export interface ApiOptions {
  /** Check answers against the contract's response schemas (default: yes). */
  validate?: boolean | ((id: RouteId) => boolean);
  /** The error to throw for an answer that breaks the contract (default: the `UnexpectedResponseError`). */
  mismatch?: (error: UnexpectedResponseError) => Error;
}

/** Builds the request of a route from its input. */
export function routeRequest<Id extends RouteId>(id: Id, input: RouteInput<Id> | undefined): RouteRequest {
  const route = routes[id] as RouteContract;
  const given = (input ?? {}) as { params?: Record<string, string | number>; query?: object; body?: unknown };
  const path = route.path.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const value = given.params?.[name];
    if (value === undefined || value === "") throw new TypeError(`${id} needs the path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(given.query ?? {})) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const query = search.toString();
  return {
    id,
    method: route.method,
    path: query === "" ? path : `${path}?${query}`,
    ...(route.body === undefined ? {} : { body: given.body ?? {} }),
    anonymous: route.auth === "public",
  };
}

/** The typed client: `api.getJob({ params: { id } })`, `api.createJob({ body })`, `api.listJobs({ query })`. */
export function createApi(send: Send, options: ApiOptions = {}): Api {
  const validate = (id: RouteId) =>
    typeof options.validate === "function" ? options.validate(id) : options.validate !== false;
  const api: Record<string, (input?: unknown) => Promise<unknown>> = {};
  for (const id of Object.keys(routes) as RouteId[]) {
    const route = routes[id] as RouteContract;
    api[id] = async (input?: unknown) => {
      const request = routeRequest(id, input as RouteInput<typeof id>);
      const body = await send(request);
      if (route.response === undefined || !validate(id)) return body;
      const parsed = route.response.safeParse(body);
      if (!parsed.success) {
        const error = new UnexpectedResponseError(request, parsed.error.issues);
        throw options.mismatch?.(error) ?? error;
      }
      return parsed.data;
    };
  }
  return api as Api;
}
