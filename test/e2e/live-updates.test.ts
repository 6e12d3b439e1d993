import type { WebSocket } from "playwright-core";
import { describe, expect, it } from "vitest";
import { signIn, useE2E, waitForLive } from "./support/harness.ts";

describe("live updates", () => {
  const e2e = useE2E();

  async function jobStatus(jobId: string): Promise<string> {
    const job = await e2e.api<{ status: string }>("GET", `/v1/jobs/${jobId}`);
    return job.body.status;
  }

  it("lets a person approve from the inbox, and the job then finishes", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/approvals");
    await page.getByRole("heading", { level: 1, name: "Approvals" }).waitFor();

    const created = await e2e.api<{ jobId: string }>("POST", "/v1/jobs", {
      workflow: {
        name: "release",
        nodes: [
          { id: "build", type: "code", code: "return { version: 42 }" },
          { id: "gate", type: "approval", dependsOn: ["build"], message: "Ship release 42?" },
          { id: "ship", type: "code", dependsOn: ["gate"], code: "return { shipped: true }" },
        ],
      },
    });
    expect(created.status).toBe(202);
    const { jobId } = created.body;

    const card = page
      .getByRole("listitem")
      .filter({ has: page.getByRole("heading", { name: "Ship release 42?" }) });
    await card.waitFor({ timeout: 30_000 });
    await card.getByLabel("Comment (optional)").fill("Looks good");
    await card.getByRole("button", { name: "Approve" }).click();
    await card.waitFor({ state: "detached" });

    await expect.poll(() => jobStatus(jobId), { timeout: 30_000, interval: 250 }).toBe("succeeded");
    await page.goto(`${e2e.twin.url}/jobs/${jobId}`);
    await page.getByRole("heading", { level: 1 }).filter({ hasText: "succeeded" }).waitFor();
    expect(e2e.errors()).toEqual([]);
  });

  it("keeps the job page whole across a WebSocket drop, replaying what happened during it", async () => {
    const page = e2e.page();
    const context = e2e.context();
    await signIn(page, e2e.twin.url);

    const created = await e2e.api<{ jobId: string }>("POST", "/v1/jobs", {
      workflow: {
        name: "pause",
        nodes: [
          { id: "before", type: "code", code: "return 1" },
          { id: "pause", type: "wait", seconds: 6, dependsOn: ["before"] },
          { id: "after", type: "code", dependsOn: ["pause"], code: "return { resumed: true }" },
        ],
      },
    });
    expect(created.status).toBe(202);
    const { jobId } = created.body;

    const sockets: WebSocket[] = [];
    page.on("websocket", (socket) => sockets.push(socket));
    await page.goto(`${e2e.twin.url}/jobs/${jobId}`);
    await waitForLive(page);
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const timeline = page.getByRole("list", { name: "Timeline" });
    await timeline.getByRole("listitem").filter({ hasText: "pause" }).first().waitFor();

    await context.setOffline(true);
    await page.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor();
    expect(await jobStatus(jobId), "the job finished before the drop; lengthen its wait").not.toBe(
      "succeeded",
    );
    const seqBeforeDrop = Math.max(
      0,
      ...(await timeline
        .getByRole("listitem")
        .evaluateAll((items) => items.map((li) => Number(li.getAttribute("data-seq"))))),
    );

    // The rest of the job happens while the browser is offline.
    await expect.poll(() => jobStatus(jobId), { timeout: 45_000, interval: 250 }).toBe("succeeded");

    const framesAfter: string[] = [];
    page.on("websocket", (socket) =>
      socket.on("framesent", (frame) => framesAfter.push(String(frame.payload))),
    );
    await context.setOffline(false);
    await waitForLive(page);

    const after = timeline
      .getByRole("listitem")
      .filter({ hasText: "after" })
      .filter({ hasText: "succeeded" });
    await after.waitFor({ timeout: 15_000 });
    await timeline
      .getByRole("listitem")
      .filter({ hasText: /Job\s*succeeded/ })
      .waitFor();
    await page.getByRole("heading", { level: 1 }).filter({ hasText: "succeeded" }).waitFor();

    const resubscribe = framesAfter
      .map((f) => JSON.parse(f))
      .find((m) => m.action === "subscribe" && m.jobId === jobId);
    expect(resubscribe?.since).toBeGreaterThanOrEqual(seqBeforeDrop);
    expect(resubscribe?.since).toBeGreaterThan(0);
    // Every event is shown once, whether fetched, replayed or pushed.
    const seqs = await timeline
      .getByRole("listitem")
      .evaluateAll((items) => items.map((li) => li.getAttribute("data-seq")));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(sockets.length).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    expect(e2e.errors()).toEqual([]);
  });
});
