import { RE2JS } from "re2js";

/**
 * JSONata regular expressions run on RE2 (re2js, a pure JavaScript port): matching takes time linear in
 * the input, so a pattern such as `/(a+)+$/` cannot backtrack for minutes on the host's event loop.
 * RE2 has no lookaround and no backreferences; such a pattern is refused with a message that says so.
 */

export class UnsupportedRegexError extends Error {
  override readonly name = "UnsupportedRegexError";
  readonly code = "S0302";
}

const compiled = new Map<string, RE2JS>();
const CACHE_SIZE = 256;

/** Compiles a JavaScript RegExp (JSONata's `i` and `m` flags) for RE2, cached by source and flags. */
export function toLinearRegExp(re: RegExp): RE2JS {
  const cacheKey = `${re.flags}/${re.source}`;
  const hit = compiled.get(cacheKey);
  if (hit) return hit;
  let flags = 0;
  if (re.ignoreCase) flags |= RE2JS.CASE_INSENSITIVE;
  if (re.multiline) flags |= RE2JS.MULTILINE;
  let pattern: RE2JS;
  try {
    pattern = RE2JS.compile(re.source, flags);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new UnsupportedRegexError(
      `regular expression /${re.source}/ is not supported (${reason}); expressions use RE2 syntax, without lookaround or backreferences`,
    );
  }
  compiled.set(cacheKey, pattern);
  if (compiled.size > CACHE_SIZE) {
    const oldest = compiled.keys().next().value;
    if (oldest !== undefined) compiled.delete(oldest);
  }
  return pattern;
}

type Match = string[] & { index: number; input: string };

/**
 * The part of RegExp that JSONata uses (`lastIndex` and `exec` of a global regex), backed by RE2. JSONata
 * passes the RegExp its parser built, and calls `new RegexEngine(regexp)` once per evaluation.
 */
export class LinearRegExp {
  lastIndex = 0;
  private readonly pattern: RE2JS;

  constructor(re: RegExp) {
    this.pattern = toLinearRegExp(re);
  }

  exec(input: string): Match | null {
    const from = this.lastIndex;
    if (from > input.length) {
      this.lastIndex = 0;
      return null;
    }
    const matcher = this.pattern.matcher(input);
    if (!matcher.find(from)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: string[] = [];
    for (let i = 0; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? "");
    const match = Object.assign(groups, { index: matcher.start(), input });
    const end = matcher.end();
    // As a global RegExp does: an empty match moves on by one, so a caller's loop cannot stall.
    this.lastIndex = end === match.index ? end + 1 : end;
    return match;
  }
}
