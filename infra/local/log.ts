/**
 * Component-prefixed logging for the twin. Tests pass `quiet`, because they provoke failures on purpose;
 * `TWIN_DEBUG=1` brings the errors back when a test needs its cause.
 */

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
  child(component: string): Logger;
}

const COLOURS = ["36", "35", "33", "32", "34", "96", "95", "93"];

function colour(component: string): string {
  let hash = 0;
  for (const char of component) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return COLOURS[hash % COLOURS.length] ?? "36";
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

export function createLogger(options: { quiet?: boolean; component?: string } = {}): Logger {
  const component = options.component ?? "twin";
  const tty = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  const prefix = tty ? `\x1b[${colour(component)}m[${component}]\x1b[0m` : `[${component}]`;
  const quiet = options.quiet === true;
  return {
    info(message) {
      if (!quiet) process.stdout.write(`${prefix} ${message}\n`);
    },
    warn(message) {
      if (!quiet) process.stderr.write(`${prefix} WARN ${message}\n`);
    },
    error(message, error) {
      if (quiet && process.env.TWIN_DEBUG === undefined) return;
      process.stderr.write(
        `${prefix} ERROR ${message}${error === undefined ? "" : `\n${describeError(error)}`}\n`,
      );
    },
    child(name) {
      return createLogger({ quiet, component: name });
    },
  };
}
