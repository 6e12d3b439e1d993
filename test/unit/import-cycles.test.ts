import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importCycles, importGraph } from "../support/import-cycles.ts";

const ROOT = join(import.meta.dirname, "..", "..");

describe("import cycles", () => {
  it("there are none in shared/, functions/ or events/", () => {
    const graph = importGraph(ROOT, ["shared", "functions", "events"]);

    expect(graph.size, "the walk found the modules").toBeGreaterThan(100);
    expect(graph.get("shared/jobs/run-step.ts"), "aliased imports are resolved").toContain(
      "shared/engine/nodes/runners.ts",
    );
    expect(importCycles(graph)).toEqual([]);
  }, 60_000);

  it("the engine and the validator reach neither the step runners nor an AWS client", () => {
    const graph = importGraph(ROOT, ["shared", "events"]);
    const reached = new Set<string>();
    const walk = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const next of graph.get(file) ?? []) walk(next);
    };
    walk("shared/engine/index.ts");
    walk("shared/engine/validate.ts");

    expect(reached.has("shared/engine/nodes/agent.ts"), "the kinds are reached").toBe(true);
    const impure = [...reached].filter(
      (file) =>
        file === "shared/engine/nodes/runners.ts" ||
        file === "shared/engine/sandbox.ts" ||
        file === "shared/aws.ts" ||
        /^shared\/(agents|tools|stores|jobs|providers)\//.test(file),
    );
    expect(impure).toEqual([]);
    // And from the other side: the step runner does reach them, so the walk would have seen them.
    walk("shared/jobs/run-step.ts");
    expect(reached.has("shared/engine/nodes/runners.ts")).toBe(true);
  }, 60_000);

  describe("the detector", () => {
    const dir = mkdtempSync(join(tmpdir(), "cycles-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("finds a cycle through a type-only import and a lazy import, resolved by the tsconfig", () => {
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module: "ESNext",
            moduleResolution: "bundler",
            allowImportingTsExtensions: true,
          },
        }),
      );
      writeFileSync(join(dir, "a.ts"), 'import type { B } from "./b.ts";\nexport type A = B;\n');
      writeFileSync(join(dir, "b.ts"), 'export type B = 1;\nexport const c = () => import("./c.ts");\n');
      writeFileSync(join(dir, "c.ts"), 'import type { A } from "./a.ts";\nexport type C = A;\n');
      writeFileSync(join(dir, "d.ts"), 'import type { A } from "./a.ts";\nexport type D = A;\n');

      expect(importCycles(importGraph(dir, ["."]))).toEqual([["a.ts", "b.ts", "c.ts"]]);
    });

    it("reports each strongly connected group once, and a module that imports itself", () => {
      const graph = new Map([
        ["x", ["y"]],
        ["y", ["x", "z"]],
        ["z", ["z"]],
        ["w", ["x"]],
      ]);

      expect(importCycles(graph)).toEqual([["x", "y"], ["z"]]);
    });
  });
});
