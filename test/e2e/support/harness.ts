import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import type { Twin } from "#infra/local/twin";
import { sharedDynamoDb } from "../../support/platform.ts";

export const ADMIN = { email: "admin@switchboard.test", password: "correct-horse-battery-staple" };

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
const SCREENSHOTS = join(ROOT, "test/e2e/screenshots");
export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function newestMtime(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.mtimeMs;
  const entries = await readdir(path);
  const times = await Promise.all(entries.map((entry) => newestMtime(join(path, entry))));
  return Math.max(info.mtimeMs, ...times);
}

/** Builds the dashboard when `web/dist` is missing or older than its sources, since the twin serves the build. */
export async function ensureWebBuilt(): Promise<void> {
  const built = await stat(join(ROOT, "web/dist/index.html")).then(
    (info) => info.mtimeMs,
    () => 0,
  );
  const sources = Math.max(
    ...(await Promise.all(
      ["web/src", "web/index.html", "web/vite.config.ts", "events"].map((p) => newestMtime(join(ROOT, p))),
    )),
  );
  if (built >= sources) return;
  const { build } = await import("vite");
  await build({ configFile: join(ROOT, "web/vite.config.ts"), logLevel: "silent" });
}

export type Api = <T = any>(
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: T }>;

export interface E2E {
  twin: Twin;
  browser: Browser;
  /** REST calls as the admin, from outside the browser. */
  api: Api;
  /** The current test's page, in a fresh browser context. */
  page: () => Page;
  context: () => BrowserContext;
  /** Console errors and uncaught exceptions the current page reported. */
  errors: () => string[];
}

/**
 * Starts the platform (serving the built dashboard) and a browser once per file, and gives each test a
 * fresh browser context. A failing test leaves a screenshot in `test/e2e/screenshots/`.
 */
export function useE2E(): E2E {
  let twin: Twin | undefined;
  let browser: Browser | undefined;
  let dataDir: string | undefined;
  let token = "";
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let errors: string[] = [];

  beforeAll(async () => {
    await ensureWebBuilt();
    dataDir = await mkdtemp(join(tmpdir(), "switchboard-e2e-"));
    const { startTwin } = await import("#infra/local/twin");
    const shared = await sharedDynamoDb();
    twin = await startTwin({
      port: 0,
      dataDir,
      adminEmail: ADMIN.email,
      adminPassword: ADMIN.password,
      quiet: true,
      ...(shared === undefined ? {} : { dynamodb: shared }),
    });
    const login = await fetch(`${twin.url}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ADMIN),
    });
    expect(login.status).toBe(200);
    token = ((await login.json()) as { accessToken: string }).accessToken;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  afterAll(async () => {
    await browser?.close();
    await twin?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    if (!browser) throw new Error("the browser did not start");
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    errors = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  });

  afterEach(async (ctx) => {
    if (page && ctx.task.result?.state === "fail") {
      await mkdir(SCREENSHOTS, { recursive: true });
      const name = ctx.task.name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true }).catch(() => {});
    }
    await context?.close();
    context = undefined;
    page = undefined;
  });

  const api: Api = async (method, path, body) => {
    if (!twin) throw new Error("the platform did not start");
    const response = await fetch(`${twin.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  return {
    get twin() {
      if (!twin) throw new Error("the platform did not start");
      return twin;
    },
    get browser() {
      if (!browser) throw new Error("the browser did not start");
      return browser;
    },
    api,
    page: () => {
      if (!page) throw new Error("no page outside a test");
      return page;
    },
    context: () => {
      if (!context) throw new Error("no browser context outside a test");
      return context;
    },
    errors: () => errors,
  };
}

/** Signs in through the form and waits for the app to show the main navigation. */
export async function signIn(page: Page, url: string, path = "/jobs", who = ADMIN): Promise<void> {
  await page.goto(`${url}${path}`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Jobs" }).waitFor();
}

/** Waits until the live connection has its subscriptions acknowledged. */
export async function waitForLive(page: Page): Promise<void> {
  await page.getByRole("status").filter({ hasText: "Live" }).waitFor();
}
