import type { z } from "zod";
import { WaitNode } from "#events/workflow";
import { type ExpressionContext, hasExpression, resolveTemplate } from "#shared/engine/expressions";
import { messageOf, type NodeKind } from "#shared/engine/nodes/kind";

type Wait = z.infer<typeof WaitNode>;

/** When the wait ends, in epoch milliseconds. `seconds` and `until` may be expressions. */
async function waitTarget(node: Wait, ctx: ExpressionContext, now: Date): Promise<number> {
  if (node.seconds !== undefined) {
    const seconds = await resolveTemplate(node.seconds, ctx);
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
      throw new Error(`seconds must be a number of seconds ≥ 0, got ${JSON.stringify(seconds ?? null)}`);
    }
    return now.getTime() + seconds * 1000;
  }
  if (node.until !== undefined) {
    const until = await resolveTemplate(node.until, ctx);
    const ms = typeof until === "number" ? until : typeof until === "string" ? Date.parse(until) : Number.NaN;
    if (!Number.isFinite(ms))
      throw new Error(`until must be an ISO-8601 time, got ${JSON.stringify(until ?? null)}`);
    return ms;
  }
  throw new Error("a wait node needs seconds or until");
}

/** A `wait` node: a durable pause for `seconds` or `until` a time, then it succeeds with `{ waitedUntil }`. */
export const waitNode: NodeKind<Wait> = {
  type: "wait",
  schema: WaitNode,
  retryable: false,
  inline: false,
  runtimes: [],
  needsPerson: false,
  validate(node, check) {
    if ((node.seconds === undefined) === (node.until === undefined))
      check.problem([], "a wait node needs exactly one of seconds or until");
    if (typeof node.seconds === "string") check.expression(node.seconds, ["seconds"]);
    if (node.until !== undefined) {
      if (hasExpression(node.until)) check.template(node.until, ["until"]);
      else if (Number.isNaN(Date.parse(node.until)))
        check.problem(
          ["until"],
          `until must be an ISO-8601 time or a {% %} expression, got ${JSON.stringify(node.until)}`,
        );
    }
  },
  async start(node, { context, now }) {
    try {
      const until = await waitTarget(node, context(), now);
      // Beyond ±8.64e15 ms a Date is invalid and could not be stored as notBefore.
      if (Number.isNaN(new Date(until).getTime())) throw new Error("the wait ends too far in the future");
      return { type: "wait", until };
    } catch (error) {
      return { type: "fail", error: { code: "INVALID_WAIT", message: messageOf(error) } };
    }
  },
};
