import { describe, expect, it } from "vitest";
import { signIn, useE2E, waitForLive } from "./support/harness.ts";

const PAGES = [
  "Overview",
  "Jobs",
  "Workflows",
  "Approvals",
  "Agents",
  "Tools",
  "MCP servers",
  "Collections",
  "Sessions",
  "Memory",
  "Schedules",
  "Usage",
  "Calibration",
  "Limits",
  "Notifications",
  "API keys",
  "Secrets",
  "Users",
  "System",
  "Audit",
  "API",
];

describe("dashboard", () => {
  const e2e = useE2E();

  it("signs in, shows every page to an admin, and signs out", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url);

    const nav = page.getByRole("navigation", { name: "Main" });
    for (const name of PAGES) {
      await nav.getByRole("link", { name, exact: true }).waitFor();
    }
    expect(await nav.getByRole("link").count()).toBe(PAGES.length);

    await page.getByRole("button", { name: "Switch to dark theme" }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
    await page.getByRole("button", { name: "Switch to light theme" }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("light");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(e2e.errors()).toEqual([]);
  });

  it("refreshes a rejected access token quietly and carries on", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url);
    await page.evaluate(() => {
      const key = "switchboard.tokens";
      const tokens = JSON.parse(sessionStorage.getItem(key) ?? "{}");
      sessionStorage.setItem(key, JSON.stringify({ ...tokens, accessToken: "not-a-valid-token" }));
    });
    await page.reload();

    await page.getByRole("heading", { level: 1, name: "Jobs" }).waitFor();
    await page.locator(".state-loading").first().waitFor({ state: "detached" });
    expect(await page.getByRole("alert").count()).toBe(0);
    const stored = await page.evaluate(() =>
      JSON.parse(sessionStorage.getItem("switchboard.tokens") ?? "{}"),
    );
    expect(stored.accessToken).not.toBe("not-a-valid-token");
    await waitForLive(page);
    // The browser logs the rejected requests themselves; nothing else may fail.
    expect(e2e.errors().filter((e) => !/status of 401|WebSocket connection/.test(e))).toEqual([]);
  });

  it("shows a viewer only the pages a viewer may use", async () => {
    const viewer = { email: "viewer@switchboard.test", password: "viewer-password-123" };
    const created = await e2e.api("POST", "/v1/users", { ...viewer, role: "viewer" });
    expect(created.status).toBe(201);

    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/jobs", viewer);
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Schedules", exact: true }).waitFor();
    const names = await nav.getByRole("link").allTextContents();
    expect(names).toEqual([
      "Overview",
      "Jobs",
      "Workflows",
      "Approvals",
      "Agents",
      "Tools",
      "MCP servers",
      "Collections",
      "Sessions",
      "Memory",
      "Schedules",
      "Usage",
      "Calibration",
      "Limits",
      "API",
    ]);
    // Viewers cannot start jobs, so the page offers no Run button.
    await page.getByRole("heading", { level: 1, name: "Jobs" }).waitFor();
    expect(await page.getByRole("button", { name: "Run", exact: true }).count()).toBe(0);
    expect(e2e.errors()).toEqual([]);
  });

  it("shows a job submitted through the API, and its success, without a reload", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/jobs");
    await waitForLive(page);
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    const created = await e2e.api<{ jobId: string }>("POST", "/v1/jobs", {
      workflow: { name: "hello", nodes: [{ id: "a", type: "code", code: "return 1" }] },
    });
    expect(created.status).toBe(202);
    const { jobId } = created.body;

    const row = page.getByRole("row").filter({ has: page.locator(`a[href="/jobs/${jobId}"]`) });
    await row.waitFor();
    expect(await row.textContent()).toContain("hello");
    await row.filter({ hasText: "succeeded" }).waitFor({ timeout: 30_000 });

    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    expect(e2e.errors()).toEqual([]);
  });

  it("draws every node of a four-node workflow and opens a node's details", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url);
    const created = await e2e.api<{ jobId: string }>("POST", "/v1/jobs", {
      workflow: {
        name: "diamond",
        nodes: [
          { id: "start", type: "code", code: "return { n: 2 }" },
          { id: "left", type: "code", dependsOn: ["start"], code: "return steps.start.output.n + 1" },
          { id: "right", type: "code", dependsOn: ["start"], code: "return steps.start.output.n * 10" },
          { id: "join", type: "code", dependsOn: ["left", "right"], code: "return { done: true }" },
        ],
      },
    });
    expect(created.status).toBe(202);

    await page.goto(`${e2e.twin.url}/jobs/${created.body.jobId}`);
    const graph = page.getByRole("region", { name: "Workflow graph" });
    await graph.waitFor();
    for (const id of ["start", "left", "right", "join"]) {
      await graph.getByRole("button", { name: new RegExp(`^Step ${id},`) }).waitFor();
    }
    expect(await graph.locator(".react-flow__node").count()).toBe(4);
    // Edges come from dependsOn (start→left, start→right, left→join, right→join), drawn once nodes are measured.
    await expect.poll(() => graph.locator(".react-flow__edge").count(), { timeout: 10_000 }).toBe(4);

    await graph.getByRole("button", { name: /^Step join, code, succeeded/ }).waitFor({ timeout: 30_000 });
    await graph.getByRole("button", { name: /^Step join,/ }).click();
    const panel = page.getByRole("complementary", { name: "Step join" });
    await panel.getByText("Output").first().waitFor();
    expect(await panel.textContent()).toContain('"done": true');
    expect(e2e.errors()).toEqual([]);
  });

  it("gives every page a result or an error state, never a crash", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url);
    const nav = page.getByRole("navigation", { name: "Main" });
    for (const name of PAGES) {
      await nav.getByRole("link", { name, exact: true }).click();
      await page.getByRole("heading", { level: 1, name, exact: true }).waitFor();
      // Loaded: the loading indicator is gone, whatever replaced it (a list, an empty or an error state).
      await page.locator(".state-loading").first().waitFor({ state: "detached", timeout: 15_000 });
    }
    expect(e2e.errors()).toEqual([]);
  });
});
