import type { AgentScript } from "#events/agents";
import type { ConverseRequest, ConverseResult, ModelProvider, ToolCallRequest } from "./types.ts";

/**
 * The built-in deterministic model: demos and tests run with no network. The first rule whose `match`
 * (a case-insensitive regex) finds the latest message answers it: with a reply, a tool call, a confidence,
 * or several of these. `$1`…`$9` in a reply and in a tool call's string arguments are the rule's capture
 * groups. A rule with `scope: "conversation"` is tested against the whole conversation, history included.
 */

/** A rough count (about four characters a token), so usage and budgets have something to add up. */
function estimateTokens(text: string): number {
  return text === "" ? 0 : Math.ceil(text.length / 4);
}

function substitute(value: unknown, groups: RegExpExecArray): unknown {
  if (typeof value === "string")
    return value.replace(/\$(\d)/g, (_all, n: string) => groups[Number(n)] ?? "");
  if (Array.isArray(value)) return value.map((v) => substitute(v, groups));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, groups)]));
  }
  return value;
}

export function createScriptedProvider(options: { model: string; script?: AgentScript }): ModelProvider {
  const script: AgentScript = options.script ?? { rules: [], defaultReply: "OK", tokenDelayMs: 0 };
  const rules = script.rules.map((rule) => ({ rule, pattern: new RegExp(rule.match, "i") }));
  let calls = 0;

  return {
    name: "scripted",
    model: options.model,
    async converse(request: ConverseRequest): Promise<ConverseResult> {
      const latest = request.messages.at(-1);
      const latestText = latest === undefined ? "" : latest.content;
      const conversation = request.messages.map((m) => m.content).join("\n");
      let reply = script.defaultReply;
      let confidence = script.defaultConfidence;
      const toolCalls: ToolCallRequest[] = [];
      for (const { rule, pattern } of rules) {
        const found = pattern.exec(rule.scope === "conversation" ? conversation : latestText);
        if (found === null) continue;
        reply =
          rule.reply === undefined
            ? rule.toolCall
              ? ""
              : script.defaultReply
            : String(substitute(rule.reply, found));
        confidence = rule.confidence ?? confidence;
        if (rule.toolCall) {
          calls++;
          toolCalls.push({
            id: `scripted_${calls}`,
            name: rule.toolCall.name,
            arguments: substitute(rule.toolCall.arguments, found) as Record<string, unknown>,
          });
        }
        break;
      }
      if (request.onToken && reply !== "") {
        for (const word of reply.match(/\s*\S+\s*/g) ?? [reply]) {
          if (request.signal?.aborted) throw request.signal.reason;
          request.onToken(word);
          if (script.tokenDelayMs > 0)
            await new Promise((resolve) => setTimeout(resolve, script.tokenDelayMs));
        }
      }
      const prompt = [request.system ?? "", ...request.messages.map((m) => m.content)].join("\n");
      return {
        text: reply,
        toolCalls,
        stopReason: toolCalls.length > 0 ? "tool_use" : "end_turn",
        usage: {
          inputTokens: estimateTokens(prompt),
          outputTokens: estimateTokens(reply) + toolCalls.length * 8,
        },
        ...(confidence === undefined ? {} : { confidence }),
      };
    },
  };
}
