#!/usr/bin/env node
// Plain JavaScript, so `npx switchboard` needs no build: tsx's loader is registered for this process and
// the TypeScript entry (with the package's `#events/...` imports) is imported through it.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
const interrupt = new AbortController();
process.once("SIGINT", () => {
  interrupt.abort();
  // A second Ctrl-C is not swallowed.
  process.once("SIGINT", () => process.exit(130));
});
try {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    signal: interrupt.signal,
  });
} catch (error) {
  process.stderr.write(
    `Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 3;
}
if (interrupt.signal.aborted) process.exitCode = 130;
