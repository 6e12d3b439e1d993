import { describe, expect, it } from "vitest";
import { signIn, useE2E } from "./support/harness.ts";

describe("API reference page", () => {
  const e2e = useE2E();

  it("renders every operation of /openapi.json, grouped by path, with roles and schemas", async () => {
    const document = await fetch(`${e2e.twin.url}/openapi.json`).then(
      (response) => response.json() as Promise<{ paths: Record<string, Record<string, unknown>> }>,
    );
    const operations = Object.values(document.paths).reduce((sum, item) => sum + Object.keys(item).length, 0);

    const page = e2e.page();
    await signIn(page, e2e.twin.url);
    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "API", exact: true })
      .click();
    await page.getByRole("heading", { level: 1, name: "API", exact: true }).waitFor();

    const main = page.getByRole("main");
    await main.getByRole("heading", { level: 2, name: "/v1/jobs" }).waitFor();
    expect(await main.getByRole("heading", { level: 2, name: "Service" }).count()).toBe(1);
    expect(await main.getByRole("article").count()).toBe(operations);

    const createJob = main.getByRole("article", { name: "POST /v1/jobs", exact: true });
    await createJob.getByText("Start a job from a stored workflow or an inline one").waitFor();
    expect(await createJob.textContent()).toContain("Roles: admin, user");
    const requestBody = createJob.locator("details", { hasText: "Request body" });
    expect(await requestBody.locator("pre").isVisible()).toBe(false);
    await requestBody.locator("summary").click();
    expect(await requestBody.locator("pre").textContent()).toContain("idempotencyKey");
    await createJob.locator("summary", { hasText: "Response 202" }).click();
    expect(
      await createJob.locator("details", { hasText: "Response 202" }).locator("pre").textContent(),
    ).toContain("jobId");

    const health = main.getByRole("article", { name: "GET /health", exact: true });
    expect(await health.textContent()).toContain("public (no credentials)");
    expect(e2e.errors()).toEqual([]);
  });

  it("is there for a viewer too", async () => {
    const viewer = { email: "api-viewer@switchboard.test", password: "viewer-password-123" };
    expect((await e2e.api("POST", "/v1/users", { ...viewer, role: "viewer" })).status).toBe(201);

    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/api", viewer);
    await page.getByRole("heading", { level: 1, name: "API", exact: true }).waitFor();
    await page.getByRole("article", { name: "GET /v1/system/dlq", exact: true }).waitFor();
    expect(
      await page.getByRole("article", { name: "GET /v1/system/dlq", exact: true }).textContent(),
    ).toContain("Roles: admin");
    expect(e2e.errors()).toEqual([]);
  });
});
