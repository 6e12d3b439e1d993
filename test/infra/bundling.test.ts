/**
 * The one test that bundles for real: esbuild over every manifest entry, on this machine, as `cdk synth`
 * does. It fails, naming them, when entries are missing.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifest } from "#infra/manifest";
import { esmRequireBanner, functionNames } from "#infra/stack/functions";
import { logicalId, type Synthesized, synth } from "./synth.ts";

let s: Synthesized;
let bundles: Map<string, string>;

beforeAll(() => {
  s = synth({}, { bundle: true });
  const assembly = s.app.synth();
  const assets = JSON.parse(
    readFileSync(join(assembly.directory, `${s.stack.artifactId}.assets.json`), "utf8"),
  ) as {
    files: Record<string, { source: { path: string } }>;
  };
  const functions = s.template.findResources("AWS::Lambda::Function");
  bundles = new Map(
    functionNames.map((name) => {
      const key = functions[logicalId(s.stack.functions.get(name))]!.Properties.Code.S3Key as string;
      const asset = assets.files[key.replace(/\.zip$/, "")]!;
      return [name, join(assembly.directory, asset.source.path)];
    }),
  );
});

afterAll(() => s?.dispose());

describe("function bundles (real esbuild, no Docker)", () => {
  it.each(functionNames)("%s is one ESM file exporting handler, with its source map", (name) => {
    const dir = bundles.get(name)!;
    const code = readFileSync(join(dir, "index.mjs"), "utf8");
    expect(code.startsWith(esmRequireBanner), "createRequire banner first").toBe(true);
    expect(
      /export\s*\{[^}]*\bhandler\b[^}]*\}/.test(code),
      `${manifest.functions[name].entry} exports handler`,
    ).toBe(true);
    expect(existsSync(join(dir, "index.mjs.map")), "source map").toBe(true);
    expect(/from\s*"#(shared|events|infra)\//.test(code), "package imports resolved at bundle time").toBe(
      false,
    );
  });

  it.each(functionNames)("%s carries its own AWS SDK instead of importing the runtime's", (name) => {
    const code = readFileSync(join(bundles.get(name)!, "index.mjs"), "utf8");
    expect(/(from|import\()\s*"@aws-sdk\//.test(code), "no import of @aws-sdk left").toBe(false);
    // The SDK's own error text mentions `[require("@aws-sdk/signature-v4-crt")]`; a real call has no bracket.
    expect(/(?<!\[)require\("@aws-sdk\//.test(code), "no require of @aws-sdk left").toBe(false);
  });
});
