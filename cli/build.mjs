// Bundles the CLI into one ES module with its dependencies, so it starts without compiling TypeScript.
// Run by `npm install` (the `prepare` script) and `npm run build:cli`.

import { readFileSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

const outfile = fileURLToPath(new URL("./dist/switchboard.mjs", import.meta.url));

await build({
  entryPoints: [fileURLToPath(new URL("./bin.ts", import.meta.url))],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  // ws loads its optional native helpers with require(); they stay optional.
  external: ["bufferutil", "utf-8-validate"],
  banner: {
    js: '#!/usr/bin/env node\nimport { createRequire as __createRequire } from "node:module";\nconst require = __createRequire(import.meta.url);',
  },
  define: { __SWITCHBOARD_VERSION__: JSON.stringify(version) },
  logLevel: "warning",
});
await chmod(outfile, 0o755);
