/**
 * Every page at 1024 px and 1400 px wide: nothing wider than the window, and no table that needs a sideways
 * scroll to show its last column (the Audit page's request ids once pushed Status off-screen). Screenshots
 * of each go to `test/e2e/screenshots/layout-<page>-<width>.png`.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { signIn, useE2E } from "./support/harness.ts";

const PAGES = [
  "Jobs",
  "Workflows",
  "Approvals",
  "Agents",
  "Tools",
  "Schedules",
  "API keys",
  "Users",
  "System",
  "Audit",
];
const SHOTS = join(import.meta.dirname, "screenshots");

describe("dashboard layout", () => {
  const e2e = useE2E();

  it("fits every page at 1024 px and 1400 px", async () => {
    // Data for the tables: a job, an agent, and audit entries with request ids.
    await e2e.api("POST", "/v1/agents", { name: "layout-agent", provider: "scripted", model: "m" });
    await e2e.api("POST", "/v1/jobs", {
      workflow: { name: "layout", nodes: [{ id: "a", type: "code", code: "return 1" }] },
    });
    const page = e2e.page();
    await signIn(page, e2e.twin.url);
    const overflows: string[] = [];
    for (const width of [1024, 1400]) {
      await page.setViewportSize({ width, height: 900 });
      for (const name of PAGES) {
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
        await page.getByRole("heading", { level: 1 }).first().waitFor();
        await page.waitForLoadState("networkidle");
        const found = await page.evaluate(() => {
          const problems: string[] = [];
          const doc = document.documentElement;
          if (doc.scrollWidth > window.innerWidth + 1) problems.push(`page is ${doc.scrollWidth} px wide`);
          for (const wrap of document.querySelectorAll<HTMLElement>(".table-wrap")) {
            if (wrap.scrollWidth > wrap.clientWidth + 1) {
              problems.push(`a table needs ${wrap.scrollWidth} px in ${wrap.clientWidth} px`);
            }
          }
          return problems;
        });
        overflows.push(...found.map((problem) => `${name} at ${width} px: ${problem}`));
        await page.screenshot({
          path: join(SHOTS, `layout-${name.toLowerCase().replace(/\s+/g, "-")}-${width}.png`),
          fullPage: true,
        });
      }
    }
    expect(overflows).toEqual([]);
    expect(e2e.errors()).toEqual([]);
  }, 180_000);
});
