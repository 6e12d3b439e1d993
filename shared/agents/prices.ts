import type { ProviderName } from "#events/agents";
import { logger } from "../observability.ts";

/**
 * List prices in US dollars per million tokens (input, output), standard tier, no caching or batch
 * discounts. A model id matches the longest entry that it starts with, so dated ids
 * (`gpt-4o-mini-2024-07-18`, `anthropic.claude-3-5-haiku-20241022-v1:0`) find their family, and Bedrock's
 * cross-region prefixes (`us.`, `eu.`, `apac.`, `global.`) are ignored.
 *
 * PRICES_AS_OF 2026-03-21. Sources:
 *  - OpenAI: https://openai.com/api/pricing/ (platform.openai.com/docs/pricing)
 *  - Anthropic: https://docs.anthropic.com/en/docs/about-claude/pricing
 *  - Amazon Bedrock: https://aws.amazon.com/bedrock/pricing/ (on-demand, us-east-1)
 *
 * Operators override or extend the table without a release through SWITCHBOARD_MODEL_PRICES, a JSON object
 * `{"<provider>/<model prefix>": {"input": 1.5, "output": 6}}`. An unknown model costs 0 and logs a warning
 * (once per model per container), so usage is still counted in tokens.
 */
export const PRICES_AS_OF = "2026-03-21";
export const MODEL_PRICES_ENV = "SWITCHBOARD_MODEL_PRICES";

export interface ModelPrice {
  /** USD per million input tokens. */
  input: number;
  /** USD per million output tokens. */
  output: number;
}

const ANTHROPIC: Record<string, ModelPrice> = {
  "claude-opus-4-6": { input: 5, output: 25 },
  "claude-opus-4-5": { input: 5, output: 25 },
  "claude-opus-4-1": { input: 15, output: 75 },
  "claude-opus-4": { input: 15, output: 75 },
  "claude-sonnet-4": { input: 3, output: 15 },
  "claude-3-7-sonnet": { input: 3, output: 15 },
  "claude-3-5-sonnet": { input: 3, output: 15 },
  "claude-haiku-4-5": { input: 1, output: 5 },
  "claude-3-5-haiku": { input: 0.8, output: 4 },
  "claude-3-haiku": { input: 0.25, output: 1.25 },
  "claude-3-opus": { input: 15, output: 75 },
};

export const DEFAULT_PRICES: Record<ProviderName, Record<string, ModelPrice>> = {
  openai: {
    "gpt-5-nano": { input: 0.05, output: 0.4 },
    "gpt-5-mini": { input: 0.25, output: 2 },
    "gpt-5-pro": { input: 15, output: 120 },
    "gpt-5": { input: 1.25, output: 10 },
    "gpt-4.1-nano": { input: 0.1, output: 0.4 },
    "gpt-4.1-mini": { input: 0.4, output: 1.6 },
    "gpt-4.1": { input: 2, output: 8 },
    "gpt-4o-mini": { input: 0.15, output: 0.6 },
    "gpt-4o": { input: 2.5, output: 10 },
    "o4-mini": { input: 1.1, output: 4.4 },
    "o3-mini": { input: 1.1, output: 4.4 },
    o3: { input: 2, output: 8 },
  },
  anthropic: ANTHROPIC,
  bedrock: {
    ...Object.fromEntries(Object.entries(ANTHROPIC).map(([model, price]) => [`anthropic.${model}`, price])),
    "amazon.nova-micro": { input: 0.035, output: 0.14 },
    "amazon.nova-lite": { input: 0.06, output: 0.24 },
    "amazon.nova-pro": { input: 0.8, output: 3.2 },
    "meta.llama3-1-8b-instruct": { input: 0.22, output: 0.22 },
    "meta.llama3-1-70b-instruct": { input: 0.72, output: 0.72 },
    "mistral.mistral-large-2407": { input: 2, output: 6 },
  },
  // Runs in the worker: free.
  scripted: {},
};

const BEDROCK_REGION_PREFIX = /^(us|eu|apac|us-gov|global|jp|au)\./;

function overrides(): Record<string, ModelPrice> {
  const raw = process.env[MODEL_PRICES_ENV];
  if (raw === undefined || raw === "") return {};
  try {
    return JSON.parse(raw) as Record<string, ModelPrice>;
  } catch {
    logger.warn(`${MODEL_PRICES_ENV} is not valid JSON; using the built-in prices`);
    return {};
  }
}

function longestPrefix(table: Record<string, ModelPrice>, model: string): ModelPrice | undefined {
  let best: [string, ModelPrice] | undefined;
  for (const entry of Object.entries(table)) {
    if (model.startsWith(entry[0]) && (best === undefined || entry[0].length > best[0].length)) best = entry;
  }
  return best?.[1];
}

const warned = new Set<string>();

/** The price of a model, or undefined when it is unknown (and then a warning, once). */
export function priceOf(provider: ProviderName, model: string): ModelPrice | undefined {
  if (provider === "scripted") return { input: 0, output: 0 };
  const id = provider === "bedrock" ? model.replace(BEDROCK_REGION_PREFIX, "") : model;
  const custom = Object.fromEntries(
    Object.entries(overrides())
      .filter(([key]) => key.startsWith(`${provider}/`))
      .map(([key, price]) => [key.slice(provider.length + 1), price]),
  );
  const price = longestPrefix(custom, id) ?? longestPrefix(DEFAULT_PRICES[provider], id);
  if (price === undefined && !warned.has(`${provider}/${model}`)) {
    warned.add(`${provider}/${model}`);
    logger.warn("No price for this model; its cost is counted as 0", {
      provider,
      model,
      pricesAsOf: PRICES_AS_OF,
    });
  }
  return price;
}

/** Cost in USD, rounded to a millionth of a cent so sums stay stable. */
export function costOf(
  provider: ProviderName,
  model: string,
  usage: { inputTokens: number; outputTokens: number },
): number {
  const price = priceOf(provider, model);
  if (price === undefined) return 0;
  const cost = (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000;
  return Math.round(cost * 1e8) / 1e8;
}
