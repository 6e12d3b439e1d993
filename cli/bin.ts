// The shell's entry point. `cli/build.mjs` bundles it to `cli/dist/switchboard.mjs`, which `npm install`
// builds (the `prepare` script) and the package's bin runs: no TypeScript is compiled at run time.
import { main } from "./main.ts";

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
