/**
 * Command definitions and argument parsing on `node:util` parseArgs. Each command declares its options
 * and positionals once; the parser, the per-command `--help` and the usage errors are derived from that.
 */
import { parseArgs } from "node:util";

/** A mistake in how the CLI was called: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    message: string,
    /** The command whose help would have helped, e.g. `jobs run`. */
    readonly command?: string,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  description: string;
  /** Shown in help: `--input <json>`. */
  value?: string;
}

export interface PositionalSpec {
  name: string;
  description: string;
  optional?: boolean;
}

export interface CommandSpec<C = unknown> {
  /** Words that name the command: `["jobs", "run"]`. */
  path: readonly string[];
  summary: string;
  description?: string;
  positionals?: readonly PositionalSpec[];
  options?: Readonly<Record<string, OptionSpec>>;
  examples?: readonly string[];
  /** Commands such as `login` run without resolving stored credentials first. */
  anonymous?: boolean;
  run(context: C, args: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  url: {
    type: "string",
    value: "url",
    description: "API base URL (default: $SWITCHBOARD_URL or http://localhost:3000)",
  },
  output: { type: "string", short: "o", value: "json|table", description: "Output format (default table)" },
  json: { type: "boolean", description: "The same as --output json" },
  help: { type: "boolean", short: "h", description: "Show help" },
};

export type Resolution<C> =
  | { kind: "command"; command: CommandSpec<C>; args: ParsedArgs }
  | { kind: "help"; text: string }
  | { kind: "version" };

function optionConfig(options: Readonly<Record<string, OptionSpec>>) {
  return Object.fromEntries(
    Object.entries(options).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.short === undefined ? {} : { short: spec.short }),
        ...(spec.multiple === true ? { multiple: true } : {}),
      },
    ]),
  );
}

/** Finds the command the words name, parses the rest against its options, and checks its positionals. */
export function resolveCommand<C>(
  commands: readonly CommandSpec<C>[],
  argv: readonly string[],
): Resolution<C> {
  const words: string[] = [];
  for (const arg of argv) {
    if (arg.startsWith("-")) break;
    words.push(arg);
  }
  if (words.length === 0) {
    if (argv.includes("--version") || argv.includes("-v")) return { kind: "version" };
    if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
      return { kind: "help", text: overviewHelp(commands) };
    }
    throw new UsageError(`Unknown option ${argv[0]}`);
  }
  let best: CommandSpec<C> | undefined;
  for (const command of commands) {
    const matches = command.path.every((word, i) => words[i] === word);
    if (matches && (best === undefined || command.path.length > best.path.length)) best = command;
  }
  if (best === undefined) {
    const group = commands.filter((c) => c.path[0] === words[0]);
    if (group.length > 0) {
      const wantsHelp = argv.includes("--help") || argv.includes("-h") || words.length === 1;
      if (wantsHelp) return { kind: "help", text: groupHelp(words[0] as string, group) };
      throw new UsageError(`Unknown command: ${words.slice(0, 2).join(" ")}`, words[0]);
    }
    throw new UsageError(`Unknown command: ${words[0]}`);
  }
  const name = best.path.join(" ");
  const rest = argv.slice(best.path.length);
  const options = { ...GLOBAL_OPTIONS, ...best.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: optionConfig(options),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // parseArgs explains well ("Unknown option '--foo'"), but with its own error codes in the text.
    throw new UsageError((error as Error).message.split(". To specify")[0] as string, name);
  }
  if (parsed.values.help === true) return { kind: "help", text: commandHelp(best) };
  const specs = best.positionals ?? [];
  const required = specs.filter((p) => p.optional !== true).length;
  if (parsed.positionals.length < required) {
    const missing = specs[parsed.positionals.length] as PositionalSpec;
    throw new UsageError(`Missing <${missing.name}>`, name);
  }
  if (parsed.positionals.length > specs.length) {
    throw new UsageError(`Unexpected argument: ${parsed.positionals[specs.length]}`, name);
  }
  return {
    kind: "command",
    command: best,
    args: { values: parsed.values as ParsedArgs["values"], positionals: parsed.positionals },
  };
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short === undefined ? "    " : `-${spec.short}, `}--${name}${spec.value === undefined ? "" : ` <${spec.value}>`}`;
    return [flag, spec.description + (spec.multiple === true ? " (repeatable)" : "")] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
}

export function usageLine(command: CommandSpec<unknown>): string {
  const positionals = (command.positionals ?? []).map((p) =>
    p.optional === true ? `[${p.name}]` : `<${p.name}>`,
  );
  const hasOptions = Object.keys(command.options ?? {}).length > 0;
  return ["switchboard", ...command.path, ...positionals, ...(hasOptions ? ["[options]"] : [])].join(" ");
}

export function commandHelp(command: CommandSpec<unknown>): string {
  const lines = [`Usage: ${usageLine(command)}`, "", command.description ?? command.summary];
  if ((command.positionals ?? []).length > 0) {
    lines.push("", "Arguments:");
    const width = Math.max(...(command.positionals ?? []).map((p) => p.name.length));
    for (const p of command.positionals ?? []) lines.push(`  ${p.name.padEnd(width)}  ${p.description}`);
  }
  if (Object.keys(command.options ?? {}).length > 0) {
    lines.push("", "Options:", ...optionLines(command.options ?? {}));
  }
  lines.push("", "Global options:", ...optionLines(GLOBAL_OPTIONS));
  if ((command.examples ?? []).length > 0) {
    lines.push("", "Examples:", ...(command.examples ?? []).map((e) => `  ${e}`));
  }
  return `${lines.join("\n")}\n`;
}

function commandTable(commands: readonly CommandSpec<unknown>[]): string[] {
  const rows = commands.map((c) => [
    usageLine(c)
      .replace(/^switchboard /, "")
      .replace(/ \[options\]$/, ""),
    c.summary,
  ]);
  const width = Math.max(...rows.map(([usage]) => (usage as string).length));
  return rows.map(([usage, summary]) => `  ${(usage as string).padEnd(width)}  ${summary}`);
}

function groupHelp(group: string, commands: readonly CommandSpec<unknown>[]): string {
  return `${[
    `Usage: switchboard ${group} <command> [options]`,
    "",
    "Commands:",
    ...commandTable(commands),
    "",
    `Run 'switchboard ${group} <command> --help' for a command's options.`,
  ].join("\n")}\n`;
}

export function overviewHelp(commands: readonly CommandSpec<unknown>[]): string {
  return `${[
    "Usage: switchboard <command> [options]",
    "",
    "The command-line client of Switchboard, a serverless platform for AI-agent workflows.",
    "",
    "Commands:",
    ...commandTable(commands),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Environment:",
    "  SWITCHBOARD_URL      API base URL (default http://localhost:3000)",
    "  SWITCHBOARD_WS_URL   WebSocket URL (default: the API's host, path /ws)",
    "  SWITCHBOARD_API_KEY  API key (sb_…); otherwise SWITCHBOARD_TOKEN, otherwise the stored login",
    "  SWITCHBOARD_TOKEN    a JWT access token",
    "",
    "Exit codes: 0 success (job succeeded), 1 job failed, cancelled or timed out, 2 usage error, 3 API error.",
    "Run 'switchboard <command> --help' for a command's options.",
  ].join("\n")}\n`;
}
