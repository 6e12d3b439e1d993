/**
 * The dashboard as AWS serves it: from one origin (CloudFront), calling the API at another (API Gateway).
 * Here a second static server plays CloudFront and the twin plays API Gateway, so every API call is a
 * cross-origin request the browser only lets through with the API's CORS answers.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStaticFiles } from "#infra/local/static-files";
import type { Twin } from "#infra/local/twin";
import { sharedDynamoDb } from "../support/platform.ts";
import { ADMIN, CHROMIUM, CHROMIUM_ARGS, ensureWebBuilt, signIn } from "./support/harness.ts";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");

let twin: Twin | undefined;
let site: Server | undefined;
let siteOrigin = "";
let browser: Browser | undefined;
let dataDir: string | undefined;

beforeAll(async () => {
  await ensureWebBuilt();
  let apiConfig = { apiUrl: "", wsUrl: "" };
  const statics = createStaticFiles({ root: join(ROOT, "web/dist"), enabled: true, config: () => apiConfig });
  site = createServer((request, response) => {
    statics(request, response, new URL(request.url ?? "/", "http://127.0.0.1")).catch(() =>
      response.destroy(),
    );
  });
  await new Promise<void>((done) => site?.listen(0, "127.0.0.1", done));
  siteOrigin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;

  dataDir = await mkdtemp(join(tmpdir(), "switchboard-e2e-cors-"));
  const { startTwin } = await import("#infra/local/twin");
  const shared = await sharedDynamoDb();
  twin = await startTwin({
    port: 0,
    dataDir,
    adminEmail: ADMIN.email,
    adminPassword: ADMIN.password,
    quiet: true,
    dashboardOrigin: siteOrigin,
    ...(shared === undefined ? {} : { dynamodb: shared }),
  });
  // As the stack's deploy writes config.json: the API's own URLs, on another host than the dashboard's.
  apiConfig = { apiUrl: twin.url, wsUrl: twin.wsUrl };
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await twin?.stop();
  await new Promise((done) => (site ? site.close(done) : done(undefined)));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("dashboard on another origin than the API", () => {
  it("signs in and loads pages through CORS, and a refused token still reads as 401", async () => {
    if (!browser || !twin) throw new Error("the platform did not start");
    expect(new URL(siteOrigin).host).not.toBe(new URL(twin.url).host);
    const context = await browser.newContext();
    const page = await context.newPage();
    const failed: string[] = [];
    page.on("requestfailed", (request) => failed.push(`${request.method()} ${request.url()}`));
    const apiCalls: { url: string; allowOrigin: string | null }[] = [];
    page.on("response", (response) => {
      if (response.url().startsWith(twin?.url ?? "-"))
        apiCalls.push({
          url: response.url(),
          allowOrigin: response.headers()["access-control-allow-origin"] ?? null,
        });
    });

    await signIn(page, siteOrigin);
    await page.getByRole("heading", { level: 1, name: "Jobs" }).waitFor();
    await page.locator(".state-loading").first().waitFor({ state: "detached" });
    expect(await page.getByRole("alert").count()).toBe(0);
    expect(failed).toEqual([]);
    expect(apiCalls.length).toBeGreaterThan(1);
    for (const call of apiCalls) expect(call.allowOrigin, call.url).toBe(siteOrigin);

    // The API refuses the token at the gateway: the browser must still see the 401 (not a CORS failure),
    // so the app refreshes quietly instead of saying it cannot reach the server.
    const status = await page.evaluate(async (api) => {
      const response = await fetch(`${api}/v1/me`, { headers: { authorization: "Bearer not-a-token" } });
      return response.status;
    }, twin.url);
    expect(status).toBe(401);
    await context.close();
  });
});
