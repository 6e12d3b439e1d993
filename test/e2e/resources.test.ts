/**
 * The resource pages added for every part of the API: the Overview (charts of runs, durations, failures and
 * cost against the budget), Usage, Secrets (write-only), Memory, and editing agents, users and schedules.
 * Each action is checked through the API afterwards, not only on the page.
 */
import { join } from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { signIn, useE2E } from "./support/harness.ts";

const SHOTS = join(import.meta.dirname, "screenshots");

describe("resource pages", () => {
  const e2e = useE2E();

  async function runJob(workflow: unknown): Promise<string> {
    const created = await e2e.api<{ id: string }>("POST", "/v1/jobs", { workflow });
    expect(created.status).toBe(202);
    return created.body.id;
  }

  async function settle(jobs: number): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const stats = await e2e.api("GET", "/v1/stats/jobs");
      if (stats.body.total.ended >= jobs) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`fewer than ${jobs} jobs ended`);
  }

  const bars = (page: Page, region: string) =>
    page
      .getByRole("region", { name: region })
      .locator(".recharts-bar-rectangle path, path.recharts-rectangle");

  it("lands on the Overview after sign-in, with runs, durations, failures and cost against the budget", async () => {
    await e2e.api("POST", "/v1/agents", { name: "overview-writer", provider: "scripted", model: "rules" });
    await runJob({ name: "overview-ok", nodes: [{ id: "a", type: "code", code: "return 1" }] });
    await runJob({ name: "overview-ok", nodes: [{ id: "a", type: "code", code: "return 2" }] });
    await runJob({ name: "overview-bad", nodes: [{ id: "a", type: "code", code: "throw new Error('x')" }] });
    await runJob({
      name: "overview-agents",
      nodes: [{ id: "ask", type: "agent", agent: "overview-writer", input: "Say something" }],
    });
    expect((await e2e.api("PUT", "/v1/usage/budget", { monthlyUsd: 5, monthlyTokens: 100_000 })).status).toBe(
      200,
    );
    await settle(4);

    const page = e2e.page();
    await page.goto(e2e.twin.url);
    await page.getByLabel("Email").fill("admin@switchboard.test");
    await page.getByLabel("Password").fill("correct-horse-battery-staple");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/overview");

    const figures = page.getByRole("region", { name: "Run figures" });
    await figures.getByText("Failure rate").waitFor();
    expect(await figures.textContent()).toMatch(/Runs4/);
    expect(await figures.textContent()).toContain("25%");
    await expect.poll(() => bars(page, "Runs per hour by status").count()).toBeGreaterThan(0);
    await page
      .getByRole("region", { name: "Duration per hour, p50 and p95" })
      .locator("circle.recharts-dot")
      .first()
      .waitFor();
    await page
      .getByRole("region", { name: "Failure rate per hour" })
      .locator("circle.recharts-dot")
      .first()
      .waitFor();

    const byWorkflow = page.getByRole("table", { name: "Runs by workflow" });
    await byWorkflow.getByRole("row", { name: /overview-ok/ }).waitFor();
    expect(await byWorkflow.getByRole("row", { name: /overview-bad/ }).textContent()).toContain("100%");

    const budget = page.getByRole("region", { name: "Budget figures" });
    await budget.getByText("budget $5.00").waitFor();
    const costChart = page.getByRole("region", { name: /Cost per day/ });
    // A horizontal line has no height, so it counts as attached rather than visible.
    await costChart.locator(".recharts-reference-line line").waitFor({ state: "attached" });
    expect(await costChart.textContent()).toContain("Budget");
    const perAgent = page.getByRole("region", { name: "Cost and tokens per agent" });
    await perAgent.getByText("overview-writer").waitFor();
    await page
      .getByRole("region", { name: "Cost and tokens per workflow" })
      .getByText("overview-agents")
      .waitFor();
    await expect.poll(() => bars(page, "Cost and tokens per agent").count()).toBeGreaterThan(0);

    await page.getByLabel("Window").selectOption("7d");
    await page.getByRole("heading", { name: "Runs per day by status" }).waitFor();

    await page.screenshot({ path: join(SHOTS, "overview-light.png"), fullPage: true });
    await page.getByRole("button", { name: "Switch to dark theme" }).click();
    await page.screenshot({ path: join(SHOTS, "overview-dark.png"), fullPage: true });
    expect(e2e.errors()).toEqual([]);
  });

  it("stores, rotates and deletes a secret without ever showing its value", async () => {
    const value = "sk-e2e-do-not-show-9f3a";
    const page = e2e.page();
    const seen: string[] = [];
    page.on("response", async (response) => {
      if (response.url().includes("/v1/secrets")) seen.push(await response.text().catch(() => ""));
    });
    await signIn(page, e2e.twin.url, "/secrets");
    await page.getByRole("heading", { level: 1, name: "Secrets" }).waitFor();
    await page.getByText("New secret", { exact: true }).click();
    await page.getByLabel("Name").fill("e2e-token");
    await page.getByLabel("Value").fill(value);
    await page.getByRole("button", { name: "Create" }).click();
    const row = page.getByRole("row", { name: /e2e-token/ });
    await row.waitFor();
    expect(await row.textContent()).toContain("never");
    expect(await page.content()).not.toContain(value);

    const before = (await e2e.api("GET", "/v1/secrets")).body.items.find((s: any) => s.name === "e2e-token");
    await page.getByRole("button", { name: "Rotate secret e2e-token" }).click();
    const dialog = page.getByRole("dialog", { name: "Rotate e2e-token" });
    await dialog.getByLabel("New value").fill(`${value}-2`);
    await dialog.getByRole("button", { name: "Rotate" }).click();
    await dialog.waitFor({ state: "hidden" });
    await expect
      .poll(async () => {
        const items = (await e2e.api("GET", "/v1/secrets")).body.items;
        return items.find((s: any) => s.name === "e2e-token")?.updatedAt;
      })
      .not.toBe(before.updatedAt);
    await row.filter({ hasNotText: "never" }).waitFor();
    expect(await page.content()).not.toContain(value);

    await page.getByRole("button", { name: "Delete secret e2e-token" }).click();
    await page.getByText("No secrets yet.").waitFor();
    expect((await e2e.api("GET", "/v1/secrets")).body.items).toEqual([]);
    expect(seen.join("\n")).not.toContain(value);
    expect(e2e.errors()).toEqual([]);
  });

  it("opens a memory namespace, puts an entry, shows it, and deletes it", async () => {
    await e2e.api("PUT", "/v1/memory/e2e-notes/seeded", { value: { from: "api" } });
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/memory");
    await page.getByRole("heading", { level: 1, name: "Memory" }).waitFor();
    await page.getByLabel("Namespace").fill("not valid!");
    await page.getByRole("button", { name: "Open" }).click();
    await page.getByRole("alert").filter({ hasText: "use letters" }).waitFor();

    await page.getByLabel("Namespace").fill("e2e-notes");
    await page.getByRole("button", { name: "Open" }).click();
    await page.getByRole("button", { name: "Show seeded" }).click();
    const entry = page.getByRole("region", { name: "Entry seeded" });
    await entry.getByText('"from": "api"').waitFor();

    await page.getByText("Put an entry", { exact: true }).click();
    await page.getByLabel("Key").fill("greeting");
    await page.getByLabel("Value (JSON)").fill('{"hello": "world"}');
    await page.getByLabel("Expires after (seconds, optional)").fill("3600");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("region", { name: "Entry greeting" }).getByText('"hello": "world"').waitFor();
    const stored = await e2e.api("GET", "/v1/memory/e2e-notes/greeting");
    expect(stored.body).toMatchObject({ value: { hello: "world" }, expiresAt: expect.any(String) });
    expect(new URL(page.url()).searchParams.get("namespace")).toBe("e2e-notes");

    await page.getByRole("button", { name: "Delete greeting" }).click();
    await page.getByRole("button", { name: "Show greeting" }).waitFor({ state: "detached" });
    expect((await e2e.api("GET", "/v1/memory/e2e-notes/greeting")).status).toBe(404);
    expect(e2e.errors()).toEqual([]);
  });

  it("shows usage by agent and by workflow, and lets an admin set the budget", async () => {
    await e2e.api("POST", "/v1/agents", { name: "usage-writer", provider: "scripted", model: "rules" });
    const id = await runJob({
      name: "usage-flow",
      nodes: [{ id: "ask", type: "agent", agent: "usage-writer", input: "Hello there" }],
    });
    for (let i = 0; i < 200; i++) {
      if ((await e2e.api("GET", `/v1/jobs/${id}`)).body.status === "succeeded") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/usage");
    await page.getByRole("heading", { level: 1, name: "Usage" }).waitFor();
    await page.getByRole("table", { name: "Usage by day" }).waitFor();
    await page.getByLabel("Group by").selectOption("agent");
    const byAgent = page.getByRole("table", { name: "Usage by agent" });
    const row = byAgent.getByRole("row", { name: /usage-writer/ });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/usage-writer\d+\d+1\$0\.00/);
    await page.getByRole("region", { name: "Cost by agent" }).waitFor();
    await page.getByLabel("Group by").selectOption("workflow");
    await page
      .getByRole("table", { name: "Usage by workflow" })
      .getByRole("row", { name: /usage-flow/ })
      .waitFor();

    await page.getByLabel("Dollars a month").fill("12.5");
    await page.getByLabel("Tokens a month").fill("");
    await page.getByRole("button", { name: "Save budget" }).click();
    await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
    const budget = await e2e.api("GET", "/v1/usage/budget");
    expect(budget.body.monthlyUsd).toBe(12.5);
    expect(budget.body.monthlyTokens).toBeUndefined();
    expect(e2e.errors()).toEqual([]);
  });

  it("edits and deletes an agent", async () => {
    const created = await e2e.api("POST", "/v1/agents", {
      name: "edit-me",
      provider: "scripted",
      model: "rules-v1",
      temperature: 0.3,
    });
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/agents");
    await page.getByRole("button", { name: "Edit agent edit-me" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit agent edit-me" });
    expect(await dialog.getByLabel("Model").inputValue()).toBe("rules-v1");
    await dialog.getByLabel("Model").fill("rules-v2");
    await dialog.getByLabel("System prompt").fill("Answer in one line.");
    await dialog.getByLabel("Max turns").fill("3");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page
      .getByRole("row", { name: /edit-me/ })
      .getByText("rules-v2")
      .waitFor();
    const stored = await e2e.api("GET", `/v1/agents/${created.body.id}`);
    expect(stored.body).toMatchObject({
      model: "rules-v2",
      systemPrompt: "Answer in one line.",
      maxTurns: 3,
      temperature: 0.3,
    });

    await page.getByRole("button", { name: "Edit agent edit-me" }).click();
    await dialog
      .getByLabel("Script (JSON): rules that decide replies, tool calls and confidence")
      .fill("{ nope");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByRole("alert").filter({ hasText: "Script is not valid JSON" }).waitFor();
    await dialog.getByRole("button", { name: "Cancel" }).click();

    await page.getByRole("button", { name: "Delete agent edit-me" }).click();
    await page.getByRole("row", { name: /edit-me/ }).waitFor({ state: "detached" });
    expect((await e2e.api("GET", `/v1/agents/${created.body.id}`)).status).toBe(404);
    expect(e2e.errors()).toEqual([]);
  });

  it("changes a user's role, disables them, refuses to demote yourself, and deletes a user", async () => {
    const user = await e2e.api("POST", "/v1/users", {
      email: "edit-user@switchboard.test",
      password: "a-long-enough-password",
      role: "user",
    });
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/users");
    await page.getByRole("button", { name: "Edit user edit-user@switchboard.test" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit edit-user@switchboard.test" });
    await dialog.getByLabel("Role").selectOption("viewer");
    await dialog.getByLabel(/Disabled/).check();
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "hidden" });
    const row = page.getByRole("row", { name: /edit-user@switchboard.test/ });
    await row.filter({ hasText: "disabled" }).waitFor();
    expect(await row.textContent()).toContain("viewer");
    expect((await e2e.api("GET", `/v1/users/${user.body.id}`)).body).toMatchObject({
      role: "viewer",
      disabled: true,
    });

    await page.getByRole("button", { name: "Edit user admin@switchboard.test" }).click();
    const self = page.getByRole("dialog", { name: "Edit admin@switchboard.test" });
    await self.getByLabel("Role").selectOption("viewer");
    await self.getByRole("button", { name: "Save" }).click();
    await self.getByRole("alert").waitFor();
    await self.getByRole("button", { name: "Cancel" }).click();

    await page.getByRole("button", { name: "Delete user edit-user@switchboard.test" }).click();
    await row.waitFor({ state: "detached" });
    expect((await e2e.api("GET", `/v1/users/${user.body.id}`)).status).toBe(404);
    // The refused demotion is the one console error: the browser logs the 409.
    expect(e2e.errors().filter((e) => !/status of 409/.test(e))).toEqual([]);
  });

  it("edits a schedule: pauses it, changes its expression and input", async () => {
    const workflow = await e2e.api("POST", "/v1/workflows", {
      name: "scheduled-e2e",
      nodes: [{ id: "a", type: "code", code: "return input" }],
    });
    const schedule = await e2e.api("POST", "/v1/schedules", {
      name: "nightly",
      workflowId: workflow.body.id,
      expression: "rate(1 hour)",
      input: { n: 1 },
    });
    expect(schedule.status).toBe(201);
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/schedules");
    await page.getByRole("button", { name: "Edit schedule nightly" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit schedule nightly" });
    await dialog.getByLabel("Expression").fill("cron(0 9 * * ? *)");
    await dialog.getByLabel("Time zone").fill("Europe/Paris");
    await dialog.getByLabel("Enabled").uncheck();
    await dialog.getByLabel("Input (JSON)").fill('{"n": 2}');
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "hidden" });
    const row = page.getByRole("row", { name: /nightly/ });
    await row.getByText("cron(0 9 * * ? *)").waitFor();
    expect(await row.textContent()).toContain("Europe/Paris");
    const stored = await e2e.api("GET", `/v1/schedules/${schedule.body.id}`);
    expect(stored.body).toMatchObject({
      expression: "cron(0 9 * * ? *)",
      timezone: "Europe/Paris",
      enabled: false,
      input: { n: 2 },
      workflowId: workflow.body.id,
    });

    await page.getByRole("button", { name: "Edit schedule nightly" }).click();
    await dialog.getByLabel("Expression").fill("every tuesday");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByRole("alert").waitFor();
    expect((await e2e.api("GET", `/v1/schedules/${schedule.body.id}`)).body.expression).toBe(
      "cron(0 9 * * ? *)",
    );
    expect(e2e.errors().filter((e) => !/status of 400/.test(e))).toEqual([]);
  });

  it("starts a session with an agent and opens its empty transcript", async () => {
    await e2e.api("POST", "/v1/agents", { name: "session-e2e", provider: "scripted", model: "rules" });
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/sessions");
    await page.getByText("New session", { exact: true }).click();
    await page.getByLabel("Agent").selectOption("session-e2e");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/\/sessions\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
    const stored = await e2e.api("GET", `/v1/sessions/${id}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ agent: "session-e2e", messages: [] });
    expect(e2e.errors()).toEqual([]);
  });

  it("deletes one document of a collection from its matches", async () => {
    await e2e.api("POST", "/v1/collections", { name: "e2e-docs", embedding: { provider: "local" } });
    await e2e.api("PUT", "/v1/collections/e2e-docs/documents", {
      documents: [
        { id: "keep", text: "The garden opens at nine." },
        { id: "drop", text: "The garden closes at six." },
      ],
    });
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/collections");
    await page.getByRole("button", { name: "Query collection e2e-docs" }).click();
    await page.getByLabel("Question").fill("when does the garden close");
    await page.getByRole("button", { name: "Search" }).click();
    const matches = page.getByRole("list", { name: "Matches" }).getByRole("listitem");
    await expect.poll(() => matches.count(), { timeout: 30_000 }).toBe(2);
    await page.getByRole("button", { name: "Delete document drop" }).click();
    await expect.poll(() => matches.count(), { timeout: 30_000 }).toBe(1);
    expect(await matches.first().textContent()).toContain("keep");
    const left = await e2e.api("POST", "/v1/collections/e2e-docs/query", { text: "garden", topK: 5 });
    expect(left.body.matches.map((m: any) => m.id)).toEqual(["keep"]);
    expect(e2e.errors()).toEqual([]);
  });
});
