/**
 * The `switchboard` command. `main` takes the arguments and streams and returns the exit code, so tests can
 * run it in-process; `bin.ts` (bundled to `dist/switchboard.mjs`) runs it for the shell.
 */
import { readFileSync } from "node:fs";
import { type Resolution, resolveCommand, UsageError } from "./args.ts";
import { SwitchboardError } from "./client.ts";
import { approvalCommands } from "./commands/approvals.ts";
import { authCommands } from "./commands/auth.ts";
import { jobCommands } from "./commands/jobs.ts";
import { keyCommands } from "./commands/keys.ts";
import { resourceCommands } from "./commands/resources.ts";
import { workflowCommands } from "./commands/workflows.ts";
import { type Command, createContext, type Io } from "./context.ts";

export const EXIT = { ok: 0, jobFailed: 1, usage: 2, api: 3 } as const;

export const commands: readonly Command[] = [
  ...authCommands,
  ...keyCommands,
  ...workflowCommands,
  ...jobCommands,
  ...approvalCommands,
  ...resourceCommands,
];

/** Set by the bundler (`cli/build.mjs`); read from package.json when run from source. */
declare const __SWITCHBOARD_VERSION__: string | undefined;

function version(): string {
  if (typeof __SWITCHBOARD_VERSION__ === "string") return __SWITCHBOARD_VERSION__;
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function describeApiError(error: SwitchboardError): string {
  const lines = [`Error: ${error.message}`];
  const facts = [
    error.code,
    error.status === 0 ? undefined : `HTTP ${error.status}`,
    error.requestId && `request ${error.requestId}`,
  ];
  lines[0] += ` (${facts.filter(Boolean).join(", ")})`;
  if (Array.isArray(error.details)) {
    for (const detail of error.details.slice(0, 20)) {
      const d = detail as { path?: unknown; message?: unknown };
      lines.push(
        typeof d.message === "string"
          ? `  ${d.path ? `${d.path}: ` : ""}${d.message}`
          : `  ${JSON.stringify(detail)}`,
      );
    }
  }
  if (error.status === 401) lines.push("Sign in with 'switchboard login' or set SWITCHBOARD_API_KEY.");
  if (error.code === "ABORTED" || error.code === "WATCH_TIMEOUT") {
    lines.push("Only the watch stopped: the job goes on ('switchboard jobs cancel <id>' stops it).");
  }
  if (error.status === 0 && error.code === "NETWORK_ERROR")
    lines.push("Is the API running? Set SWITCHBOARD_URL or --url.");
  return lines.join("\n");
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let json =
    argv.includes("--json") ||
    argv.some((arg, i) => arg === "--output=json" || (arg === "--output" && argv[i + 1] === "json"));
  let resolution: Resolution<Parameters<Command["run"]>[0]>;
  try {
    resolution = resolveCommand(commands, argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`Error: ${error.message}\n`);
    io.stderr.write(
      `Run 'switchboard ${error.command === undefined ? "" : `${error.command} `}--help' for usage.\n`,
    );
    return EXIT.usage;
  }
  if (resolution.kind === "help") {
    io.stdout.write(resolution.text);
    return EXIT.ok;
  }
  if (resolution.kind === "version") {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const { command, args } = resolution;
  json = args.values.json === true || args.values.output === "json";
  if (args.values.output !== undefined && args.values.output !== "json" && args.values.output !== "table") {
    io.stderr.write("Error: --output is json or table\n");
    return EXIT.usage;
  }
  const context = createContext(io, args, command.anonymous === true);
  try {
    return await command.run(context, args);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`Error: ${error.message}\n`);
      io.stderr.write(`Run 'switchboard ${command.path.join(" ")} --help' for usage.\n`);
      return EXIT.usage;
    }
    if (error instanceof SwitchboardError) {
      if (json) {
        const { status, code, message, details, requestId } = error;
        io.stderr.write(`${JSON.stringify({ error: { status, code, message, details, requestId } })}\n`);
      } else io.stderr.write(`${describeApiError(error)}\n`);
      return EXIT.api;
    }
    throw error;
  }
}
