import { describe, expect, it } from "vitest";
import {
  compileExpression,
  type ExpressionContext,
  ExpressionError,
  evaluate,
  isExpression,
  isTruthy,
  resolveTemplate,
  validateExpression,
  validateTemplate,
} from "#shared/engine/expressions";

const ctx: ExpressionContext = {
  input: { url: "https://example.com", ids: [1, 2, 3], title: "Hello" },
  steps: {
    fetch: { status: "succeeded", output: { body: "the body", json: { items: [{ n: 1 }, { n: 2 }] } } },
    each: { status: "succeeded", output: [2, 4, 6] },
  },
  item: { name: "x" },
  index: 2,
  job: { id: "job-1", tenantId: "t-1", createdAt: "2025-01-01T00:00:00.000Z", workflowName: "triage" },
  attempt: 3,
};

describe("evaluate", () => {
  it("sees every binding", async () => {
    expect(await evaluate("{% $input.url %}", ctx)).toBe("https://example.com");
    expect(await evaluate("$steps.fetch.output.body", ctx)).toBe("the body");
    expect(await evaluate("$steps.each.output", ctx)).toEqual([2, 4, 6]);
    expect(await evaluate("$steps.fetch.status", ctx)).toBe("succeeded");
    expect(await evaluate("$item.name & $index", ctx)).toBe("x2");
    expect(await evaluate("$job.workflowName & '/' & $job.id", ctx)).toBe("triage/job-1");
    expect(await evaluate("$attempt", ctx)).toBe(3);
  });

  it("returns plain arrays, not JSONata sequences", async () => {
    const out = await evaluate("$steps.fetch.output.json.items.n", ctx);

    expect(out).toEqual([1, 2]);
    expect(Object.keys(out as object)).toEqual(["0", "1"]);
  });

  it("gives undefined when nothing matches", async () => {
    expect(await evaluate("$input.missing", ctx)).toBeUndefined();
  });

  it("reads the decision's clock through $now and $millis", async () => {
    const now = new Date("2024-06-01T12:00:00.000Z");

    expect(await evaluate("$now()", { ...ctx, now })).toBe("2024-06-01T12:00:00.000Z");
    expect(await evaluate("$millis()", { ...ctx, now })).toBe(now.getTime());
    expect(await evaluate("$now('[Y0001]-[M01]')", { ...ctx, now })).toBe("2024-06");
  });

  it("throws ExpressionError with the text, code and position of a runtime error", async () => {
    const err = await evaluate("{% $input.title + 1 %}", ctx).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ExpressionError);
    expect(err).toMatchObject({ expression: "$input.title + 1", code: "T2001" });
    expect((err as ExpressionError).message).toContain("$input.title + 1");
    expect(typeof (err as ExpressionError).position).toBe("number");
  });

  it("stops an endless loop after the time limit", async () => {
    const started = Date.now();

    const err = await evaluate("( $f := function($n){ $f($n + 1) }; $f(0) )", ctx).catch((e: unknown) => e);

    expect(err).toMatchObject({ code: "D1012" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("stops runaway recursion", async () => {
    const err = await evaluate("( $f := function($n){ $n + $f($n + 1) }; $f(0) )", ctx).catch(
      (e: unknown) => e,
    );

    expect(err).toMatchObject({ code: "D1011" });
  });

  it("does not offer $eval", async () => {
    await expect(evaluate("$eval('1 + 1')", ctx)).rejects.toThrow(/\$eval is not available/);
  });
});

describe("compileExpression", () => {
  it("caches compiled expressions", () => {
    expect(compileExpression("{% 1 + 1 %}")).toBe(compileExpression("1 + 1"));
  });

  it("throws ExpressionError on bad syntax", () => {
    expect(() => compileExpression("$x.(")).toThrow(ExpressionError);
  });

  it("evicts the least recently used expression past its size", () => {
    const first = compileExpression("'first' & 0");
    for (let i = 1; i <= 300; i++) compileExpression(`'filler' & ${i}`);

    expect(compileExpression("'first' & 0")).not.toBe(first);
  });
});

describe("resolveTemplate", () => {
  it("replaces a whole-expression string by a value of any type", async () => {
    const out = await resolveTemplate(
      { items: "{% $steps.fetch.output.json.items %}", n: "{% $count($input.ids) %}", flag: "{% true %}" },
      ctx,
    );

    expect(out).toEqual({ items: [{ n: 1 }, { n: 2 }], n: 3, flag: true });
  });

  it("interpolates segments inside other text", async () => {
    expect(await resolveTemplate("Summarize: {% $steps.fetch.output.body %}", ctx)).toBe(
      "Summarize: the body",
    );
    expect(await resolveTemplate("{% $input.title %}, #{% $index %} {% $item %}", ctx)).toBe(
      'Hello, #2 {"name":"x"}',
    );
    expect(await resolveTemplate("[{% $input.missing %}]", ctx)).toBe("[]");
  });

  it("walks arrays and nested objects, leaving other values and keys alone", async () => {
    const out = await resolveTemplate(
      { "{% $input.title %}": [1, "{% $index %}", null, { deep: "{% $attempt %}" }] },
      ctx,
    );

    expect(out).toEqual({ "{% $input.title %}": [1, 2, null, { deep: 3 }] });
  });

  it("drops keys that resolve to nothing and turns missing array entries into null", async () => {
    expect(await resolveTemplate({ a: "{% $input.missing %}", b: ["{% $input.missing %}"] }, ctx)).toEqual({
      b: [null],
    });
  });

  it("keeps strings without expressions as they are", async () => {
    expect(await resolveTemplate("100% plain {not an expression}", ctx)).toBe(
      "100% plain {not an expression}",
    );
  });

  it("passes expression errors on", async () => {
    await expect(resolveTemplate({ x: "{% $nope( %}" }, ctx)).rejects.toBeInstanceOf(ExpressionError);
  });
});

describe("validation helpers", () => {
  it("reports syntax errors and accepts good expressions", () => {
    expect(validateExpression("{% $input.a %}")).toBeNull();
    expect(validateExpression("{% $input.a + %}")).toMatch(/\$input\.a \+/);
    expect(validateExpression("{% %}")).toMatch(/empty/);
  });

  it("checks each segment of a template and catches an unterminated {%", () => {
    expect(validateTemplate("a {% 1 %} b {% 2 %}")).toBeNull();
    expect(validateTemplate("a {% 1 %} b {% ( %}")).not.toBeNull();
    expect(validateTemplate("a {% $input.x")).toMatch(/unterminated/);
  });

  it("recognises whole expressions", () => {
    expect(isExpression("  {% $x %} ")).toBe(true);
    expect(isExpression("a {% $x %}")).toBe(false);
    expect(isExpression("{% $a %} and {% $b %}")).toBe(false);
    expect(isExpression(3)).toBe(false);
  });

  it("follows JSONata truthiness", () => {
    expect([true, 1, "x", [0, 1], { a: 1 }].every(isTruthy)).toBe(true);
    expect([false, 0, "", [], [0, false], {}, null, undefined].some(isTruthy)).toBe(false);
  });
});

describe("regular expressions (RE2, linear time)", () => {
  it("answers a catastrophic pattern at once instead of backtracking", async () => {
    // A backtracking engine needs about 2^n steps here: 26 a's took 8 s, 60 would take centuries.
    for (const n of [26, 60, 10_000]) {
      const s = `${"a".repeat(n)}!`;
      expect(await evaluate("$contains($input.s, /(a+)+$/)", { input: { s } })).toBe(false);
      expect(await evaluate("$contains($input.s, /(a+)+!$/)", { input: { s } })).toBe(true);
    }
  });

  it("keeps JSONata's regex functions working", async () => {
    expect(await evaluate("$match('aXbxc', /x/i).match", {})).toEqual(["X", "x"]);
    expect(await evaluate("$match('ab', /(a)(b)/).groups", {})).toEqual(["a", "b"]);
    expect(await evaluate("$match('x😀y😀', /😀/).index", {})).toEqual([1, 4]);
    expect(await evaluate("$replace('a1b22c', /[0-9]+/, '#')", {})).toBe("a#b#c");
    expect(await evaluate("$split('a,b,,c', /,/)", {})).toEqual(["a", "b", "", "c"]);
    expect(await evaluate("$contains('one\\ntwo', /^two$/m)", {})).toBe(true);
    expect(await evaluate("$input.ids[$string($) ~> /[13]/]", ctx)).toEqual([1, 3]);
  });

  it("refuses lookaround and backreferences when the workflow is checked", () => {
    expect(validateExpression("$contains('aa', /(a)\\1/)")).toMatch(/not supported.*RE2/);
    expect(validateExpression("$contains('ab', /a(?=b)/)")).toMatch(/not supported.*RE2/);
  });
});
