import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signIn, useE2E } from "./support/harness.ts";

/**
 * The platform controls' pages: notification targets with their deliveries' status, an agent's
 * calibration chart, and usage against the tokens-per-minute limits.
 */

let receiver: Server;
let received = 0;
let url = "";
const savedAllow = process.env.SWITCHBOARD_ALLOW_HOSTS;

describe("platform controls in the dashboard", () => {
  const e2e = useE2E();

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        received++;
        response.writeHead(204);
        response.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const port = (receiver.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}/hook`;
    process.env.SWITCHBOARD_ALLOW_HOSTS = [savedAllow, `127.0.0.1:${port}`].filter(Boolean).join(",");
  });

  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    if (savedAllow === undefined) delete process.env.SWITCHBOARD_ALLOW_HOSTS;
    else process.env.SWITCHBOARD_ALLOW_HOSTS = savedAllow;
  });

  it("adds a webhook, shows its secret once, and lists a test delivery as delivered", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/notifications");
    await page.getByRole("heading", { level: 1, name: "Notifications" }).waitFor();
    await page.getByText("No notification targets yet.").waitFor();

    await page.getByText("Add a webhook").click();
    await page.getByLabel("Webhook URL").fill(url);
    await page.getByRole("button", { name: "Add", exact: true }).click();
    const secret = page.getByRole("region", { name: "New signing secret" });
    await secret.waitFor();
    expect(await secret.textContent()).toMatch(/shown once/);

    const card = page.getByRole("region", { name: `Target ${url}` });
    await card.waitFor();
    await card.getByRole("button", { name: "Send a test" }).click();
    const row = card.getByRole("row").filter({ hasText: "test" });
    await row.filter({ hasText: "delivered" }).waitFor({ timeout: 30_000 });
    expect(received).toBeGreaterThanOrEqual(1);
    expect(e2e.errors()).toEqual([]);
  });

  it("charts an agent's calibration by confidence band", async () => {
    expect(
      (await e2e.api("POST", "/v1/agents", { name: "triager", provider: "scripted", model: "m" })).status,
    ).toBe(201);
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/calibration");
    const section = page.getByRole("region", { name: "Calibration of triager" });
    await section.waitFor();
    await section.getByRole("status").filter({ hasText: "No recommendation yet" }).waitFor();
    await section
      .getByRole("figure", { name: "Approval rate by confidence band" })
      .locator("svg")
      .first()
      .waitFor();
    expect(e2e.errors()).toEqual([]);
  });

  it("shows usage against the tokens-per-minute limit and saves the tenant's limits", async () => {
    expect((await e2e.api("PUT", "/v1/limits", { tokensPerMinute: 5000 })).status).toBe(200);
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/limits");
    const windows = page.getByRole("list", { name: "Windows" });
    await windows.getByText("tenant: 0 of 5000 tokens").waitFor();
    await page.getByRole("figure", { name: "Tokens used against limits" }).locator("svg").first().waitFor();

    await page.getByLabel("Tokens per minute").fill("1200");
    await page.getByLabel("Dollars per job").fill("2.5");
    await page.getByRole("button", { name: "Save limits" }).click();
    await page.getByRole("status").filter({ hasText: "Limits saved." }).waitFor();
    await windows.getByText("tenant: 0 of 1200 tokens").waitFor();
    expect((await e2e.api("GET", "/v1/limits")).body).toMatchObject({ tokensPerMinute: 1200, jobUsd: 2.5 });
    expect(e2e.errors()).toEqual([]);
  });
});
