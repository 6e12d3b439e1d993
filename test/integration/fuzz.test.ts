/**
 * Fuzzes every route of the OpenAPI document (`GET /openapi.json`) on the twin: malformed JSON, deep
 * nesting, prototype keys, wrong types, huge strings, bodies around both size limits, and fast-check
 * generated values. The contract: never a 5xx, and every 4xx has the error body `{code, message, requestId}`.
 * Failures are collected with their route and input, so one run reports all of them.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorBody } from "#events/errors";
import { MAX_BODY_BYTES } from "#shared/http/api";
import { type Platform, request, startPlatform } from "../support/platform.ts";

/** API Gateway's own payload limit, which the twin's gateway enforces too. */
const GATEWAY_MAX_BYTES = 10 * 1024 * 1024;
const SEED = 20_240_601;

type JsonSchema = Record<string, any>;
interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  query: { name: string; schema: JsonSchema }[];
  body?: JsonSchema;
  auth: boolean;
}
interface Failure {
  route: string;
  category: string;
  input: string;
  status: number;
  body: string;
}

let platform: Platform;
const operations: Operation[] = [];
const failures: Failure[] = [];
let requests = 0;

function describeInput(value: string): string {
  return value.length > 160 ? `${value.slice(0, 120)}… (${value.length} chars)` : value;
}

/** Sends one request and checks the answer against the contract; returns the status. */
async function probe(
  op: Operation,
  category: string,
  init: {
    path?: string;
    query?: string;
    body?: string;
    contentType?: string | null;
    auth?: boolean;
    headers?: Record<string, string>;
  },
): Promise<{ status: number; body: unknown }> {
  const path = init.path ?? op.path.replace(/\{(\w+)\}/g, "x1");
  const url = `${platform.url}${path}${init.query === undefined ? "" : `?${init.query}`}`;
  const headers: Record<string, string> = { ...init.headers };
  if (init.auth ?? op.auth) headers.authorization = `Bearer ${platform.token}`;
  if (init.body !== undefined && init.contentType !== null)
    headers["content-type"] = init.contentType ?? "application/json";
  let response: Response;
  for (let attempt = 0; ; attempt++) {
    requests++;
    response = await fetch(url, { method: op.method, headers, body: init.body });
    // The gateway throttles a fast caller as API Gateway's usage plan would; that tells nothing about the input.
    if (response.status !== 429 || attempt >= 10) break;
    await response.body?.cancel();
    await new Promise((r) => setTimeout(r, 1000 * Number(response.headers.get("retry-after") ?? 1)));
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    // kept as text; the checks below say whether that is allowed
  }
  const input = describeInput(
    `${init.query === undefined ? "" : `?${init.query} `}${init.path ?? ""} ${init.body ?? ""}`.trim(),
  );
  const record = (why: string) =>
    failures.push({
      route: `${op.method} ${op.path}`,
      category: `${category}: ${why}`,
      input,
      status: response.status,
      body: describeInput(text),
    });
  if (response.status >= 500) record("5xx");
  else if (response.status >= 400 && !ErrorBody.safeParse(body).success) record("4xx without the error body");
  return { status: response.status, body };
}

/** A value that satisfies a JSON schema well enough to get past validation where it can. */
function example(schema: JsonSchema | undefined, depth = 0): unknown {
  if (schema === undefined || depth > 8) return null;
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const choices = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(choices))
    return example(choices.find((c: JsonSchema) => c.type !== "null") ?? choices[0], depth + 1);
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...schema.allOf.map((s: JsonSchema) => example(s, depth + 1)));
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== "null") : schema.type;
  switch (type) {
    case "string": {
      if (schema.format === "email") return "fuzz@example.com";
      if (schema.format === "date-time") return new Date(Date.now() + 86_400_000).toISOString();
      const text = "fuzz";
      return text.padEnd(Math.max(schema.minLength ?? 0, text.length), "z").slice(0, schema.maxLength ?? 100);
    }
    case "integer":
    case "number":
      return Math.max(schema.minimum ?? 1, (schema.exclusiveMinimum ?? 0) + 1);
    case "boolean":
      return true;
    case "array":
      return Array.from({ length: schema.minItems ?? 0 }, () => example(schema.items, depth + 1));
    case "object": {
      const out: Record<string, unknown> = {};
      for (const name of schema.required ?? []) out[name] = example(schema.properties?.[name], depth + 1);
      return out;
    }
    default:
      return {};
  }
}

/** Values of every other JSON type than the schema's. */
function wrongTypes(schema: JsonSchema | undefined): unknown[] {
  const type = Array.isArray(schema?.type) ? schema?.type[0] : schema?.type;
  const all: Record<string, unknown[]> = {
    string: [12345, true, ["a"], { a: 1 }],
    number: ["12", false, [1], { n: 1 }, -1e308],
    integer: ["7", 1.5, -(2 ** 63), [1]],
    boolean: ["true", 0, null],
    array: ["[]", { 0: "a" }, 7],
    object: ["{}", [1, 2], 0, null],
  };
  return all[type as string] ?? [null, 0, "x", [], {}];
}

const deepArray = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;
const deepObject = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

/** A JSON object text with `field` replaced by raw JSON text (so keys like `__proto__` survive). */
function withField(base: unknown, field: string, rawValue: string): string {
  const rest =
    base !== null && typeof base === "object" && !Array.isArray(base) ? { ...(base as object) } : {};
  delete (rest as Record<string, unknown>)[field];
  const inner = JSON.stringify(rest).slice(1, -1);
  return `{${JSON.stringify(field)}:${rawValue}${inner === "" ? "" : `,${inner}`}}`;
}

/** Pads a valid JSON object to exactly `bytes` bytes. */
function bodyOfSize(bytes: number): string {
  const shell = '{"pad":""}';
  return `{"pad":"${"x".repeat(bytes - shell.length)}"}`;
}

function propertiesOf(schema: JsonSchema | undefined): [string, JsonSchema][] {
  if (schema === undefined) return [];
  const merged = { ...(schema.properties ?? {}) };
  for (const part of [...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) {
    Object.assign(merged, part.properties ?? {});
  }
  return Object.entries(merged) as [string, JsonSchema][];
}

beforeAll(async () => {
  platform = await startPlatform();
  const doc = await request<any>(platform.url, "GET", "/openapi.json");
  expect(doc.status).toBe(200);
  for (const [path, methods] of Object.entries<Record<string, any>>(doc.body.paths)) {
    for (const [method, op] of Object.entries<any>(methods)) {
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string),
        query: (op.parameters ?? [])
          .filter((p: any) => p.in === "query")
          .map((p: any) => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content?.["application/json"]?.schema,
        auth: (op.security ?? []).length > 0,
      });
    }
  }
}, 120_000);

afterAll(async () => {
  if (process.env.FUZZ_FAILURES_FILE) {
    const { writeFile } = await import("node:fs/promises");
    await writeFile(process.env.FUZZ_FAILURES_FILE, JSON.stringify(failures, null, 2));
  }
  process.stdout.write(
    `\nfuzz: ${requests} requests over ${operations.length} operations, ${failures.length} failures\n`,
  );
  await platform?.stop();
});

const mutating = (op: Operation) => op.method !== "GET";

describe("fuzzing every route of the OpenAPI document", () => {
  it("covers the whole document", () => {
    expect(operations.length).toBeGreaterThanOrEqual(13);
    expect(
      operations.some((op) => op.method === "POST" && op.path === "/v1/jobs" && op.body !== undefined),
    ).toBe(true);
  });

  it("answers malformed JSON and wrong media types with 4xx", async () => {
    const before = failures.length;
    const malformed = [
      "{",
      "[",
      "{oops",
      '{"a":}',
      "nul",
      "\u0000",
      '{"a":1}x',
      "'single'",
      "\ufeff{}",
      "1e999999",
      '"\\ud800"',
      "{}".repeat(3),
    ];
    for (const op of operations.filter(mutating)) {
      for (const body of malformed) await probe(op, "malformed JSON", { body });
      await probe(op, "text/plain body", {
        body: JSON.stringify(example(op.body)),
        contentType: "text/plain",
      });
      await probe(op, "no content type", { body: JSON.stringify(example(op.body)), contentType: null });
    }
    expect(failures.slice(before)).toEqual([]);
  });

  it("survives 10,000 levels of nesting, as the body and inside each field", async () => {
    const before = failures.length;
    for (const op of operations.filter(mutating)) {
      await probe(op, "deep array body", { body: deepArray(10_000) });
      await probe(op, "deep object body", { body: deepObject(10_000) });
      for (const [field] of propertiesOf(op.body)) {
        await probe(op, `deep ${field}`, { body: withField(example(op.body), field, deepObject(10_000)) });
      }
    }
    expect(failures.slice(before)).toEqual([]);
  });

  it("ignores __proto__ and constructor keys, and nothing is polluted", async () => {
    const before = failures.length;
    const poison = '{"polluted":"yes"}';
    for (const op of operations) {
      const base = example(op.body);
      await probe(op, "__proto__ query", {
        query: "__proto__[polluted]=yes&constructor[prototype][polluted]=yes&__proto__=x",
      });
      await probe(op, "__proto__ header", { headers: { __proto__: "x", constructor: "y" } });
      if (!mutating(op)) continue;
      await probe(op, "__proto__ key", { body: withField(base, "__proto__", poison) });
      await probe(op, "constructor key", { body: withField(base, "constructor", `{"prototype":${poison}}`) });
      for (const [field] of propertiesOf(op.body)) {
        await probe(op, `__proto__ in ${field}`, { body: withField(base, field, `{"__proto__":${poison}}`) });
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
    expect(failures.slice(before)).toEqual([]);
  });

  it("answers wrong types in bodies, queries and path parameters with 4xx", async () => {
    const before = failures.length;
    for (const op of operations) {
      for (const param of op.query) {
        for (const value of ["abc", "-1", "1e9", "NaN", "", "[]", "%00", "9".repeat(400)]) {
          await probe(op, `query ${param.name}`, {
            query: `${encodeURIComponent(param.name)}=${encodeURIComponent(value)}`,
          });
        }
      }
      for (const name of op.pathParams) {
        for (const value of [
          "%00",
          "..%2F..%2Fetc",
          "%E2%80%AE",
          "a%20b",
          "%F0%9F%92%A5",
          "-1",
          "0".repeat(300),
        ]) {
          await probe(op, `path ${name}`, {
            path: op.path.replace(`{${name}}`, value).replace(/\{(\w+)\}/g, "x1"),
          });
        }
      }
      if (!mutating(op)) continue;
      const base = example(op.body);
      for (const top of [null, [], "string", 42, true])
        await probe(op, "body of another type", { body: JSON.stringify(top) });
      for (const [field, schema] of propertiesOf(op.body)) {
        for (const value of wrongTypes(schema)) {
          await probe(op, `wrong type ${field}`, { body: withField(base, field, JSON.stringify(value)) });
        }
      }
    }
    expect(failures.slice(before)).toEqual([]);
  });

  it("answers huge strings with 4xx or success, never 5xx", async () => {
    const before = failures.length;
    const huge = "\u00e9".repeat(450_000);
    for (const op of operations) {
      for (const param of op.query)
        await probe(op, `huge query ${param.name}`, { query: `${param.name}=${"q".repeat(8_000)}` });
      for (const name of op.pathParams) {
        await probe(op, `huge path ${name}`, {
          path: op.path.replace(`{${name}}`, "p".repeat(4_000)).replace(/\{(\w+)\}/g, "x1"),
        });
      }
      if (!mutating(op)) continue;
      for (const [field] of propertiesOf(op.body)) {
        await probe(op, `huge ${field}`, { body: withField(example(op.body), field, JSON.stringify(huge)) });
      }
    }
    expect(failures.slice(before)).toEqual([]);
  });

  it("takes a body at the limit and refuses one byte over, at both limits", async () => {
    const before = failures.length;
    for (const op of operations.filter(mutating)) {
      const under = await probe(op, "1 byte under MAX_BODY_BYTES", { body: bodyOfSize(MAX_BODY_BYTES - 1) });
      const at = await probe(op, "exactly MAX_BODY_BYTES", { body: bodyOfSize(MAX_BODY_BYTES) });
      const over = await probe(op, "1 byte over MAX_BODY_BYTES", { body: bodyOfSize(MAX_BODY_BYTES + 1) });
      expect(under.status, `${op.method} ${op.path}`).not.toBe(413);
      expect(at.status, `${op.method} ${op.path}`).not.toBe(413);
      expect(over, `${op.method} ${op.path}`).toMatchObject({
        status: 413,
        body: { code: "PAYLOAD_TOO_LARGE" },
      });
    }
    const jobs = operations.find((op) => op.method === "POST" && op.path === "/v1/jobs") as Operation;
    const belowGateway = await probe(jobs, "1 byte under the gateway's 10 MB", {
      body: bodyOfSize(GATEWAY_MAX_BYTES - 1),
    });
    const overGateway = await probe(jobs, "1 byte over the gateway's 10 MB", {
      body: bodyOfSize(GATEWAY_MAX_BYTES + 1),
    });
    expect(belowGateway).toMatchObject({ status: 413, body: { code: "PAYLOAD_TOO_LARGE" } });
    expect(overGateway).toMatchObject({ status: 413, body: { code: "PAYLOAD_TOO_LARGE" } });
    expect(failures.slice(before)).toEqual([]);
  }, 120_000);

  it("answers generated bodies, queries and ids within the contract", async () => {
    const before = failures.length;
    const value = fc.jsonValue({ maxDepth: 4 });
    const text = fc.string({ unit: "binary", maxLength: 40 });
    for (const [index, op] of operations.entries()) {
      const props = propertiesOf(op.body).map(([name]) => name);
      const bodies = fc.sample(
        fc.oneof(
          value,
          fc.dictionary(props.length > 0 ? fc.constantFrom(...props, "extra") : text, value, { maxKeys: 6 }),
          fc.record(Object.fromEntries(props.map((p) => [p, value])), { requiredKeys: [] }),
        ),
        { numRuns: mutating(op) ? 8 : 0, seed: SEED + index },
      );
      for (const body of bodies) await probe(op, "generated body", { body: JSON.stringify(body) ?? "null" });
      const ids = fc.sample(
        text.filter((s) => s.length > 0),
        { numRuns: op.pathParams.length > 0 ? 4 : 0, seed: SEED + index },
      );
      for (const id of ids) {
        await probe(op, "generated id", {
          path: op.path.replace(/\{(\w+)\}/g, () => encodeURIComponent(id)),
        });
      }
      const queries = fc.sample(
        fc.dictionary(fc.constantFrom(...op.query.map((q) => q.name), "zz"), text, { maxKeys: 3 }),
        {
          numRuns: op.query.length > 0 ? 4 : 0,
          seed: SEED + index,
        },
      );
      for (const query of queries)
        await probe(op, "generated query", { query: new URLSearchParams(query).toString() });
    }
    expect(failures.slice(before)).toEqual([]);
  }, 120_000);

  it("refuses every protected route without credentials, and unknown methods, in the error shape", async () => {
    const before = failures.length;
    for (const op of operations.filter((o) => o.auth)) {
      const { status } = await probe(op, "no credentials", { auth: false });
      expect(status, `${op.method} ${op.path}`).toBe(401);
    }
    const paths = [...new Set(operations.map((op) => op.path))];
    for (const path of paths) {
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"]) {
        if (operations.some((op) => op.path === path && op.method === method)) continue;
        const { status } = await probe(
          { method, path, pathParams: [], query: [], auth: true },
          "method not in the document",
          {},
        );
        expect(status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      }
    }
    expect(failures.slice(before)).toEqual([]);
  });
});
