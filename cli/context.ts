/** What every command gets: its streams, the chosen output format, and a client with the caller's credentials. */
import { readFile } from "node:fs/promises";
import type { CommandSpec, ParsedArgs } from "./args.ts";
import { UsageError } from "./args.ts";
import { SwitchboardClient, SwitchboardError } from "./client.ts";
import { credentialsPath, isFresh, loadLogin, saveLogin } from "./credentials.ts";
import type { Writer } from "./output.ts";

export interface Io {
  stdout: Writer;
  stderr: Writer;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C, so a watch can leave the terminal tidy. */
  signal?: AbortSignal;
}

export const DEFAULT_URL = "http://localhost:3000";

export interface Context {
  io: Io;
  json: boolean;
  url: string;
  credentialsFile: string;
  /** Built on first use, so `--help` and usage errors never touch the network or the credentials file. */
  client(): Promise<SwitchboardClient>;
  print(text: string): void;
  printJson(value: unknown): void;
  warn(text: string): void;
}

export type Command = CommandSpec<Context>;

export function createContext(io: Io, args: ParsedArgs, anonymous: boolean): Context {
  const url = String(args.values.url ?? io.env.SWITCHBOARD_URL ?? DEFAULT_URL);
  const json = args.values.json === true || args.values.output === "json";
  const credentialsFile = credentialsPath(io.env);
  let client: Promise<SwitchboardClient> | undefined;
  const context: Context = {
    io,
    json,
    url,
    credentialsFile,
    client: () => {
      client ??= anonymous ? Promise.resolve(newClient(io, url, {})) : authenticatedClient(context);
      return client;
    },
    print: (text) => io.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    printJson: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    warn: (text) => io.stderr.write(`${text}\n`),
  };
  return context;
}

export function newClient(
  io: Io,
  url: string,
  credentials: { apiKey?: string; token?: string },
): SwitchboardClient {
  const wsUrl = io.env.SWITCHBOARD_WS_URL;
  return new SwitchboardClient({
    url,
    ...credentials,
    ...(wsUrl === undefined || wsUrl === "" ? {} : { wsUrl }),
  });
}

/** An API key wins over a token, a token over the stored login; a stale stored login is refreshed once. */
async function authenticatedClient(context: Context): Promise<SwitchboardClient> {
  const { io, url } = context;
  const apiKey = io.env.SWITCHBOARD_API_KEY;
  if (apiKey !== undefined && apiKey !== "") return newClient(io, url, { apiKey });
  const token = io.env.SWITCHBOARD_TOKEN;
  if (token !== undefined && token !== "") return newClient(io, url, { token });
  const stored = await loadLogin(url, context.credentialsFile);
  if (stored === undefined) return newClient(io, url, {});
  if (isFresh(stored)) return newClient(io, url, { token: stored.accessToken });
  const client = newClient(io, url, {});
  try {
    const tokens = await client.refresh(stored.refreshToken);
    await saveLogin(
      url,
      {
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        expiresAt: new Date(Date.now() + tokens.expiresIn * 1000).toISOString(),
        ...(stored.email === undefined ? {} : { email: stored.email }),
        savedAt: new Date().toISOString(),
      },
      context.credentialsFile,
    );
  } catch (error) {
    if (!(error instanceof SwitchboardError) || error.status !== 401) throw error;
    context.warn(`The stored login for ${url} has expired; run 'switchboard login' again.`);
    client.setToken(undefined);
  }
  return client;
}

/** Reads `-` as stdin, `@path` or a path as a file. */
export async function readSource(io: Io, source: string): Promise<string> {
  if (source === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin)
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString("utf8");
  }
  const path = source.startsWith("@") ? source.slice(1) : source;
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(
      `Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

export function listOption(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
}
