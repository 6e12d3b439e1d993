import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root: manifest entries and asset folders are relative to it, whatever the caller's cwd. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export const fromRoot = (...segments: string[]) => join(repoRoot, ...segments);

export const exists = (relative: string) => existsSync(fromRoot(relative));
