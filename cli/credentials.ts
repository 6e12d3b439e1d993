/**
 * Stored logins, one per API URL, in `~/.config/switchboard/credentials.json` (or under
 * `$XDG_CONFIG_HOME`). The file holds bearer tokens, so it is created owner-only (0600) in an owner-only
 * directory, and written by rename so a crash never leaves half a file.
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";

export const StoredLogin = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  /** When the access token stops working, ISO-8601. */
  expiresAt: z.string(),
  email: z.string().optional(),
  savedAt: z.string(),
});
export type StoredLogin = z.infer<typeof StoredLogin>;

const CredentialsFile = z.object({
  version: z.literal(1),
  profiles: z.record(z.string(), StoredLogin),
});
type CredentialsFile = z.infer<typeof CredentialsFile>;

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ""
      ? env.XDG_CONFIG_HOME
      : join(homedir(), ".config");
  return join(base, "switchboard", "credentials.json");
}

/** Logins are kept per API, so a laptop twin and a deployed stack do not overwrite each other. */
export const profileKey = (url: string) => url.replace(/\/+$/, "");

async function readFileOrEmpty(path: string): Promise<CredentialsFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, profiles: {} };
    throw error;
  }
  const parsed = CredentialsFile.safeParse(JSON.parse(text));
  // A file from another version or hand-edited into another shape is replaced rather than trusted.
  return parsed.success ? parsed.data : { version: 1, profiles: {} };
}

export async function loadLogin(url: string, path = credentialsPath()): Promise<StoredLogin | undefined> {
  const file = await readFileOrEmpty(path).catch((): CredentialsFile => ({ version: 1, profiles: {} }));
  return file.profiles[profileKey(url)];
}

export async function saveLogin(
  url: string,
  login: StoredLogin | undefined,
  path = credentialsPath(),
): Promise<void> {
  const file = await readFileOrEmpty(path).catch((): CredentialsFile => ({ version: 1, profiles: {} }));
  if (login === undefined) delete file.profiles[profileKey(url)];
  else file.profiles[profileKey(url)] = login;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  // `mode` only applies when the file is created; a leftover temp file keeps whatever it had.
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/** A stored access token that is still good for at least this long is used as it is. */
export const REFRESH_MARGIN_MS = 60_000;

export function isFresh(login: StoredLogin, now = Date.now()): boolean {
  return Date.parse(login.expiresAt) - now > REFRESH_MARGIN_MS;
}
