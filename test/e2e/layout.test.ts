/**
 * Every page of the navigation at 1024 px and 1400 px wide, in the light theme and (at 1400 px) the dark
 * one: nothing wider than the window, and no table that needs a sideways scroll to show its last column (the
 * Audit page's request ids once pushed Status off-screen; the System page once clipped its queue table).
 * Screenshots of each go to `test/e2e/screenshots/layout-<page>-<width>[-dark].png`.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NAV } from "../../web/src/lib/nav.ts";
import { signIn, useE2E } from "./support/harness.ts";

// Every page an admin has in the navigation: a page added to the dashboard is checked without a new line here.
const PAGES = NAV.map((item) => item.label);
const SHOTS = join(import.meta.dirname, "screenshots");

describe("dashboard layout", () => {
  const e2e = useE2E();

  it("fits every page at 1024 px and 1400 px", async () => {
    // Data for the tables and charts: jobs that succeed and fail, an agent's usage, and one of each resource.
    await e2e.api("POST", "/v1/agents", { name: "layout-agent", provider: "scripted", model: "m" });
    await e2e.api("POST", "/v1/jobs", {
      workflow: { name: "layout", nodes: [{ id: "a", type: "code", code: "return 1" }] },
    });
    await e2e.api("POST", "/v1/jobs", {
      workflow: { name: "layout-fails", nodes: [{ id: "a", type: "code", code: "throw new Error('no')" }] },
    });
    await e2e.api("POST", "/v1/jobs", {
      workflow: {
        name: "layout-agent-flow",
        nodes: [{ id: "ask", type: "agent", agent: "layout-agent", input: "Hello" }],
      },
    });
    const workflow = await e2e.api("POST", "/v1/workflows", {
      name: "layout-stored",
      nodes: [{ id: "a", type: "code", code: "return 1" }],
    });
    await e2e.api("POST", "/v1/schedules", {
      name: "layout-schedule",
      workflowId: workflow.body.id,
      expression: "rate(1 hour)",
    });
    await e2e.api("POST", "/v1/secrets", { name: "layout-secret", value: "not-shown" });
    await e2e.api("PUT", "/v1/memory/layout/a-rather-long-memory-key-name", { value: { a: 1 } });
    await e2e.api("POST", "/v1/sessions", { agent: "layout-agent" });
    await e2e.api("POST", "/v1/collections", { name: "layout-docs", embedding: { provider: "local" } });
    await e2e.api("PUT", "/v1/usage/budget", { monthlyUsd: 10 });
    const page = e2e.page();
    await signIn(page, e2e.twin.url);
    const overflows: string[] = [];
    const views = [
      { width: 1024, theme: "light" },
      { width: 1400, theme: "light" },
      { width: 1400, theme: "dark" },
    ] as const;
    for (const { width, theme } of views) {
      await page.setViewportSize({ width, height: 900 });
      const current = await page.evaluate(() => document.documentElement.dataset.theme ?? "light");
      if (current !== theme) {
        await page.getByRole("button", { name: `Switch to ${theme} theme` }).click();
      }
      for (const name of PAGES) {
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
        await page.getByRole("heading", { level: 1 }).first().waitFor();
        if (name === "Memory") {
          await page.getByLabel("Namespace").fill("layout");
          await page.getByRole("button", { name: "Open" }).click();
          await page.getByRole("table", { name: "Keys in layout" }).waitFor();
        }
        await page.waitForLoadState("networkidle");
        await page.locator(".state-loading").first().waitFor({ state: "detached", timeout: 60_000 });
        const found = await page.evaluate(() => {
          const problems: string[] = [];
          const doc = document.documentElement;
          if (doc.scrollWidth > window.innerWidth + 1) problems.push(`page is ${doc.scrollWidth} px wide`);
          for (const wrap of document.querySelectorAll<HTMLElement>(".table-wrap")) {
            if (wrap.scrollWidth > wrap.clientWidth + 1) {
              problems.push(`a table needs ${wrap.scrollWidth} px in ${wrap.clientWidth} px`);
            }
          }
          for (const card of document.querySelectorAll<HTMLElement>(".card, .chart")) {
            if (card.scrollWidth > card.clientWidth + 1) {
              problems.push(`a card needs ${card.scrollWidth} px in ${card.clientWidth} px`);
            }
          }
          return problems;
        });
        overflows.push(...found.map((problem) => `${name} at ${width} px (${theme}): ${problem}`));
        const suffix = theme === "dark" ? "-dark" : "";
        await page.screenshot({
          path: join(SHOTS, `layout-${name.toLowerCase().replace(/\s+/g, "-")}-${width}${suffix}.png`),
          fullPage: true,
        });
      }
    }
    expect(overflows).toEqual([]);
    expect(e2e.errors()).toEqual([]);
  }, 600_000);
});
