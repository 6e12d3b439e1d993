import { TokenResponse } from "#events/auth";
import { ApiError } from "./api-error.ts";

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/**
 * Tokens live in sessionStorage: they survive a reload but die with the tab, so a shared or forgotten
 * browser does not stay signed in, and each tab refreshes its own rotating refresh token without racing
 * another tab for it. Any web storage is readable by injected script, so the choice is about lifetime,
 * not secrecy.
 */
const STORAGE_KEY = "switchboard.tokens";
/** Refresh this long before the access token expires, so requests never carry a stale one. */
const REFRESH_MARGIN_MS = 60_000;

const RefreshedTokens = TokenResponse.omit({ tokenType: true });

export class TokenStore {
  private current: Tokens | null;
  private listeners = new Set<() => void>();
  private refreshing: Promise<boolean> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly apiUrl: string) {
    this.current = readStored();
    this.schedule();
  }

  get tokens(): Tokens | null {
    return this.current;
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly snapshot = (): Tokens | null => this.current;

  accept(response: { accessToken: string; refreshToken: string; expiresIn: number }): void {
    this.set({
      accessToken: response.accessToken,
      refreshToken: response.refreshToken,
      expiresAt: Date.now() + response.expiresIn * 1000,
    });
  }

  clear(): void {
    this.set(null);
  }

  /** A usable access token, refreshed first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    if (this.current && this.current.expiresAt - Date.now() < REFRESH_MARGIN_MS) await this.refresh();
    return this.current?.accessToken ?? null;
  }

  /**
   * Trades the refresh token for new tokens. Concurrent callers share one call, because the server
   * rotates refresh tokens and a second use of the old one would fail. A rejected refresh signs out;
   * a network failure keeps the tokens so the next attempt can succeed.
   */
  refresh(): Promise<boolean> {
    if (!this.current) return Promise.resolve(false);
    this.refreshing ??= this.doRefresh(this.current.refreshToken).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(refreshToken: string): Promise<boolean> {
    let response: Response;
    try {
      response = await fetch(`${this.apiUrl}/v1/auth/refresh`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refreshToken }),
      });
    } catch {
      return false;
    }
    if (!response.ok) {
      const error = await ApiError.fromResponse(response);
      if (error.status === 400 || error.status === 401 || error.status === 403) this.clear();
      return false;
    }
    const parsed = RefreshedTokens.safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) {
      this.clear();
      return false;
    }
    this.accept(parsed.data);
    return true;
  }

  private set(tokens: Tokens | null): void {
    this.current = tokens;
    try {
      if (tokens) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      // Storage can be disabled (private modes); the session then lasts as long as the page.
    }
    this.schedule();
    for (const listener of this.listeners) listener();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (!this.current) return;
    const delay = Math.max(this.current.expiresAt - Date.now() - REFRESH_MARGIN_MS, 1_000);
    // Browsers cap timers at 2^31-1 ms; a longer-lived token is refreshed on use instead.
    if (delay > 2 ** 31 - 1) return;
    this.timer = setTimeout(() => void this.refresh(), delay);
  }
}

function readStored(): Tokens | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Tokens>;
    if (
      typeof value.accessToken === "string" &&
      typeof value.refreshToken === "string" &&
      typeof value.expiresAt === "number"
    ) {
      return { accessToken: value.accessToken, refreshToken: value.refreshToken, expiresAt: value.expiresAt };
    }
  } catch {
    // Unreadable storage counts as signed out.
  }
  return null;
}
