/**
 * The job page's in-place approval, step logs, waterfall and re-run with a plan, and the jobs list's search,
 * date range and bulk actions, in Chromium. Both pages are checked for overflow at 1024 px and 1400 px, and
 * screenshots go to `test/e2e/screenshots/job-*.png`.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type E2E, signIn, useE2E } from "./support/harness.ts";

const SHOTS = join(import.meta.dirname, "screenshots");

const gated = {
  name: "e2e-gated",
  nodes: [
    {
      id: "prepare",
      type: "code",
      code: 'console.log("preparing", input.n); return input.n',
      input: { n: "{% $input.n %}" },
    },
    { id: "gate", type: "approval", message: "Publish the numbers?", dependsOn: ["prepare"] },
    {
      id: "publish",
      type: "code",
      code: "return input.n * 2",
      input: { n: "{% $steps.prepare.output %}" },
      dependsOn: ["gate"],
    },
  ],
};

async function waitForStatus(e2e: E2E, id: string, statuses: string[]) {
  for (let i = 0; i < 300; i++) {
    const job = await e2e.api("GET", `/v1/jobs/${id}`);
    if (statuses.includes(job.body.status)) return job.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} never reached ${statuses.join("|")}`);
}

async function overflow(page: import("playwright-core").Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth + 1) problems.push(`page is ${doc.scrollWidth} px wide`);
    for (const wrap of document.querySelectorAll<HTMLElement>(".table-wrap, .waterfall, .modal")) {
      if (wrap.scrollWidth > wrap.clientWidth + 1)
        problems.push(`${wrap.className} needs ${wrap.scrollWidth} px in ${wrap.clientWidth} px`);
    }
    return problems;
  });
}

describe("the job page", () => {
  const e2e = useE2E();

  it("approves in place with a comment, shows step logs and times, and re-runs with a plan", async () => {
    const workflow = await e2e.api("POST", "/v1/workflows", gated);
    const created = await e2e.api("POST", "/v1/jobs", { workflowId: workflow.body.id, input: { n: 21 } });
    const jobId = created.body.id as string;
    await waitForStatus(e2e, jobId, ["waiting"]);

    const page = e2e.page();
    await signIn(page, e2e.twin.url, `/jobs/${jobId}`);
    const card = page.getByRole("region", { name: "Approval for gate" });
    await card.getByText("Publish the numbers?").waitFor();
    await card.getByLabel("Comment (optional)").fill("Numbers checked");
    await card.getByRole("button", { name: "Approve" }).click();
    await card.waitFor({ state: "detached" });

    const timeline = page.getByRole("list", { name: "Timeline" });
    await timeline.getByText("Numbers checked").waitFor();
    expect(await timeline.locator(".timeline-comment").first().textContent()).toContain(
      "approved by admin@switchboard.test",
    );
    await page.getByRole("heading", { level: 1 }).getByText("succeeded").waitFor();

    // The waterfall has a row per node; the approval's time is all waiting for a person.
    const waterfall = page.getByRole("figure", { name: "Step waterfall" });
    for (const node of ["prepare", "gate", "publish"])
      await waterfall.locator(`li[data-node-id="${node}"]`).waitFor();
    await waterfall.locator('li[data-node-id="gate"] [data-paused-for="person"]').waitFor();
    expect(await waterfall.locator('li[data-node-id="gate"] .waterfall-ran').textContent()).toBe("0 ms");

    // Step logs, in the step's panel.
    await waterfall.getByRole("button", { name: "prepare" }).click();
    const panel = page.getByRole("complementary", { name: "Step prepare" });
    expect(await panel.locator(".step-logs").textContent()).toBe("preparing 21");
    await page.screenshot({ path: join(SHOTS, "job-page-approved.png"), fullPage: true });

    // Re-run from the approval: the plan shows first, then the run opens the new job.
    await page.getByRole("button", { name: "Re-run…" }).click();
    const dialog = page.getByRole("dialog", { name: "Re-run this job" });
    await dialog.getByLabel("Start from step").selectOption("gate");
    await dialog.getByRole("button", { name: "Show plan" }).click();
    const plan = dialog.getByRole("region", { name: "Plan" });
    await plan.waitFor();
    expect(
      await plan
        .locator("li")
        .evaluateAll((items) => items.map((li) => `${li.dataset.nodeId}:${li.dataset.action}`)),
    ).toEqual(["prepare:keep", "gate:run", "publish:run"]);
    await page.screenshot({ path: join(SHOTS, "job-page-rerun-plan.png") });
    // Changing the choice asks for a new plan before running.
    await dialog.getByLabel("Start from step").selectOption("");
    await dialog.getByRole("button", { name: "Show plan" }).waitFor();
    // Back to the planned choice, the plan shown still holds and may run.
    await dialog.getByLabel("Start from step").selectOption("gate");
    await dialog.getByRole("button", { name: "Run this plan" }).click();
    await page.waitForURL((url) => url.pathname.startsWith("/jobs/") && !url.pathname.endsWith(jobId));
    const newId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
    expect(newId).not.toBe(jobId);
    await page.getByRole("region", { name: "Approval for gate" }).waitFor();
    const rerun = await e2e.api("GET", `/v1/jobs/${newId}`);
    const prepare = rerun.body.steps.find((s: any) => s.nodeId === "prepare");
    expect(prepare).toMatchObject({ status: "succeeded", output: 21, logs: ["preparing 21"] });

    for (const width of [1024, 1400]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(200);
      expect(await overflow(page), `job page at ${width}`).toEqual([]);
      await page.screenshot({ path: join(SHOTS, `job-page-${width}.png`), fullPage: true });
    }
    expect(e2e.errors()).toEqual([]);
  });

  it("lists jobs with their created date, searches them by name, id and date, and cancels in bulk", async () => {
    const gate = (name: string) => ({ name, nodes: [{ id: "gate", type: "approval", message: "Go?" }] });
    const ids: string[] = [];
    for (const name of ["bulk-one", "bulk-two", "other-flow"]) {
      ids.push((await e2e.api("POST", "/v1/jobs", { workflow: gate(name) })).body.id);
    }
    for (const id of ids) await waitForStatus(e2e, id, ["waiting"]);

    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/jobs");
    const table = page.getByRole("table", { name: "Jobs" });
    await table.getByText("other-flow").waitFor();
    const created = await table.locator("tbody tr").first().locator("time").textContent();
    expect(created).toMatch(/\d{4}/);

    await page.getByLabel("Search", { exact: true }).fill(ids[2] as string);
    await table.getByText("bulk-one").waitFor({ state: "detached" });
    await table.getByText("other-flow").waitFor();
    expect(await table.locator("tbody tr").count()).toBe(1);
    await page.getByLabel("Search", { exact: true }).fill("bulk-");
    await table.getByText("other-flow").waitFor({ state: "detached" });
    await table.locator("tbody tr").nth(1).waitFor();
    expect(await table.locator("tbody tr").count()).toBe(2);

    const today = new Date().toISOString().slice(0, 10);
    await page.getByLabel("To", { exact: true }).fill("2020-01-01");
    await page.getByText("No jobs match these filters.").waitFor();
    await page.getByLabel("To", { exact: true }).fill(today);
    await page.getByLabel("From", { exact: true }).fill(today);
    await table.locator("tbody tr").nth(1).waitFor();

    await page.getByLabel("Select all shown jobs").check();
    await page.getByText("2 selected").waitFor();
    for (const width of [1024, 1400]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(200);
      expect(await overflow(page), `jobs page at ${width}`).toEqual([]);
      await page.screenshot({ path: join(SHOTS, `job-list-${width}.png`), fullPage: true });
    }
    await page.getByRole("button", { name: "Cancel selected" }).click();
    await page.getByRole("status").getByText("Cancelled 2 jobs").waitFor();
    expect((await e2e.api("GET", `/v1/jobs/${ids[0]}`)).body.status).toBe("cancelled");
    expect((await e2e.api("GET", `/v1/jobs/${ids[1]}`)).body.status).toBe("cancelled");
    expect((await e2e.api("GET", `/v1/jobs/${ids[2]}`)).body.status).toBe("waiting");
    await table.locator("tbody tr").first().getByText("cancelled").waitFor();
    expect(e2e.errors()).toEqual([]);
  });
});
