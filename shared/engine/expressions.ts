import jsonata from "jsonata";
import { EXPRESSION_PATTERN } from "#events/workflow";
import { LinearRegExp, toLinearRegExp } from "./linear-regexp.ts";

/**
 * What a `{% … %}` expression can see. Each field is bound as a JSONata variable (`$input`, `$steps`, …).
 * The root document (`$`) is left empty so that a bare path such as `foo` is not silently read from
 * somewhere unexpected.
 */
export interface ExpressionContext {
  input?: unknown;
  /** nodeId → the node's step: `output` is a forEach node's array of item outputs. */
  steps?: Record<string, { output?: unknown; status: string; error?: unknown }>;
  item?: unknown;
  index?: number;
  job?: { id: string; tenantId: string; createdAt: string; workflowName: string };
  attempt?: number;
  /** The clock `$now()` and `$millis()` read, so a decision can be replayed. Defaults to the real clock. */
  now?: Date;
}

/**
 * Guardrails for one evaluation: expressions come from tenants and run inside shared workers. JSONata checks
 * the time at every step it evaluates; regular expressions run on RE2 (linear time), so no single step can
 * backtrack for longer than its input allows and the time limit holds for every expression.
 */
export const EXPRESSION_TIME_LIMIT_MS = 1_000;
/** Longest expression (the text inside `{% %}`), in characters. */
export const MAX_EXPRESSION_CHARS = 4_096;
const LIMITS = {
  timeout: EXPRESSION_TIME_LIMIT_MS,
  stack: 500,
  sequence: 1_000_000,
  RegexEngine: LinearRegExp as unknown as RegExpConstructor,
};
const CACHE_SIZE = 256;
const SEGMENT = /\{%([\s\S]*?)%\}/g;

export class ExpressionError extends Error {
  override readonly name = "ExpressionError";
  /** The JSONata text, without the `{% %}`. */
  readonly expression: string;
  /** JSONata's error code, such as `S0203` (syntax) or `D1012` (timeout). */
  readonly code: string | undefined;
  /** Character offset in the expression where JSONata gave up. */
  readonly position: number | undefined;

  constructor(expression: string, detail: string, code?: string, position?: number) {
    super(
      `expression {% ${expression.trim()} %} failed: ${detail}${position === undefined ? "" : ` (at ${position})`}`,
    );
    this.expression = expression;
    this.code = code;
    this.position = position;
  }
}

interface JsonataFailure {
  code?: string;
  message?: string;
  position?: number;
}

function toExpressionError(body: string, err: unknown): ExpressionError {
  if (err instanceof ExpressionError) return err;
  const e = (err ?? {}) as JsonataFailure;
  const message = typeof e.message === "string" && e.message !== "" ? e.message : String(err);
  return new ExpressionError(body, message, e.code, typeof e.position === "number" ? e.position : undefined);
}

/**
 * True when the whole string is one `{% … %}` expression. EXPRESSION_PATTERN alone also matches
 * "{% a %} and {% b %}" (it starts and ends with the markers), which is a template of two segments.
 */
export function isExpression(value: unknown): boolean {
  if (typeof value !== "string") return false;
  const m = EXPRESSION_PATTERN.exec(value);
  return m !== null && !(m[1] ?? "").includes("%}");
}

/** True when the string has at least one `{% … %}` segment (or an unterminated `{%`). */
export function hasExpression(value: unknown): boolean {
  return typeof value === "string" && value.includes("{%");
}

/** Accepts either a bare JSONata body or a string that is entirely `{% body %}`. */
function bodyOf(src: string): string {
  const m = isExpression(src) ? EXPRESSION_PATTERN.exec(src) : null;
  return (m ? (m[1] ?? "") : src).trim();
}

const cache = new Map<string, jsonata.Expression>();

/** Parses (or fetches from a small LRU cache) a JSONata expression. Throws ExpressionError on bad syntax. */
export function compileExpression(src: string): jsonata.Expression {
  const body = bodyOf(src);
  const hit = cache.get(body);
  if (hit) {
    // Re-insert so the Map's insertion order doubles as recency order.
    cache.delete(body);
    cache.set(body, hit);
    return hit;
  }
  if (body === "") throw new ExpressionError(body, "the expression is empty");
  if (body.length > MAX_EXPRESSION_CHARS) {
    throw new ExpressionError(
      `${body.slice(0, 40)}…`,
      `it is ${body.length} characters long, over the ${MAX_EXPRESSION_CHARS}-character expression limit`,
    );
  }
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(body, LIMITS);
    checkRegexes(body, compiled.ast());
  } catch (err) {
    throw toExpressionError(body, err);
  }
  cache.set(body, compiled);
  if (cache.size > CACHE_SIZE) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return compiled;
}

/** Refuses, when the workflow is checked, a regular expression RE2 cannot run (lookaround, backreferences). */
function checkRegexes(body: string, node: unknown): void {
  if (node === null || typeof node !== "object") return;
  if (node instanceof RegExp) {
    toLinearRegExp(node);
    return;
  }
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) for (const v of value) checkRegexes(body, v);
    else checkRegexes(body, value);
  }
}

/** The syntax error of an expression (bare or `{% %}`-wrapped), or null when it parses. */
export function validateExpression(src: string): string | null {
  try {
    compileExpression(src);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Checks every `{% %}` segment of a string; also catches an unterminated `{%`. */
export function validateTemplate(value: string): string | null {
  if (isExpression(value)) return validateExpression(value);
  for (const m of value.matchAll(SEGMENT)) {
    const problem = validateExpression(m[1] ?? "");
    if (problem) return problem;
  }
  if (value.replace(SEGMENT, "").includes("{%")) return `unterminated "{%" in ${JSON.stringify(value)}`;
  return null;
}

const fromMillis = jsonata("$fromMillis($ms, $picture, $tz)");

function bindingsOf(ctx: ExpressionContext): Record<string, unknown> {
  const bindings: Record<string, unknown> = {
    input: ctx.input,
    steps: ctx.steps ?? {},
    item: ctx.item,
    index: ctx.index,
    job: ctx.job,
    attempt: ctx.attempt,
    // `$eval` would compile a nested expression without the guardrails above.
    eval: () => {
      throw new Error("$eval is not available in workflow expressions");
    },
  };
  if (ctx.now) {
    const ms = ctx.now.getTime();
    bindings.millis = () => ms;
    bindings.now = (picture?: string, tz?: string) => fromMillis.evaluate(undefined, { ms, picture, tz });
  }
  return bindings;
}

/**
 * JSONata returns sequences (arrays with extra flags), may return functions, and can share object
 * identity with its inputs. Copy the result into plain JSON so it can be stored and compared.
 */
function toPlainJson(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === "function") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => toPlainJson(v) ?? null);
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const plain = toPlainJson(v);
    if (plain !== undefined) out[k] = plain;
  }
  return out;
}

/** Evaluates one expression (bare or `{% %}`-wrapped). Undefined means JSONata matched nothing. */
export async function evaluate(src: string, context: ExpressionContext): Promise<unknown> {
  const expr = compileExpression(src);
  try {
    return toPlainJson(await expr.evaluate(undefined, bindingsOf(context)));
  } catch (err) {
    throw toExpressionError(bodyOf(src), err);
  }
}

function interpolated(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/**
 * Walks a JSON value. A string that is entirely `{% expr %}` becomes the expression's value, of any type;
 * a string with `{% %}` segments inside other text becomes a string with each segment interpolated
 * (objects as JSON, null and undefined as ""). Object keys are left as they are; keys whose value resolves
 * to undefined are dropped, and undefined array entries become null, as JSON.stringify would do.
 */
export async function resolveTemplate(value: unknown, context: ExpressionContext): Promise<unknown> {
  if (typeof value === "string") {
    if (isExpression(value)) return evaluate(value, context);
    if (!value.includes("{%")) return value;
    const parts: string[] = [];
    let last = 0;
    for (const m of value.matchAll(SEGMENT)) {
      parts.push(value.slice(last, m.index), interpolated(await evaluate(m[1] ?? "", context)));
      last = m.index + m[0].length;
    }
    parts.push(value.slice(last));
    return parts.join("");
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) out.push((await resolveTemplate(v, context)) ?? null);
    return out;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = await resolveTemplate(v, context);
      if (resolved !== undefined) out[k] = resolved;
    }
    return out;
  }
  return value;
}

/** JSONata's notion of truth is close to JavaScript's, but an empty array or object is false there too. */
export function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(isTruthy);
  if (value !== null && typeof value === "object") return Object.keys(value).length > 0;
  return Boolean(value);
}
