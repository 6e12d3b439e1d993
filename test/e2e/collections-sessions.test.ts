import { describe, expect, it } from "vitest";
import { signIn, useE2E } from "./support/harness.ts";

describe("collections and sessions pages", () => {
  const e2e = useE2E();

  it("creates a collection, adds documents, shows matches for a query, and deletes it", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/collections");
    await page.getByRole("heading", { level: 1, name: "Collections" }).waitFor();

    await page.getByText("New collection", { exact: true }).click();
    await page.getByLabel("Name").fill("handbook");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("button", { name: "Query collection handbook" }).click();
    await page.getByLabel("Documents (JSON)").fill(
      JSON.stringify([
        {
          id: "parking",
          text: "The parking garage opens at seven in the morning.",
          metadata: { kind: "site" },
        },
        { id: "lunch", text: "Lunch is served in the canteen from noon." },
      ]),
    );
    await page.getByRole("button", { name: "Add documents" }).click();
    await page.getByText("Stored.").waitFor();
    await page.getByLabel("Question").fill("when does the parking garage open");
    await page.getByRole("button", { name: "Search" }).click();

    const matches = page.getByRole("list", { name: "Matches" }).getByRole("listitem");
    await matches.first().waitFor();
    expect(await matches.count()).toBe(2);
    expect(await matches.first().textContent()).toContain("The parking garage opens at seven");
    expect(await matches.first().textContent()).toContain("parking");

    await page.getByRole("button", { name: "Delete collection handbook" }).click();
    await page.getByText("No collections yet.").waitFor();
    const listed = await e2e.api("GET", "/v1/collections");
    expect(listed.body.items).toEqual([]);
    expect(e2e.errors()).toEqual([]);
  });

  it("lists sessions and shows a readable transcript", async () => {
    await e2e.api("POST", "/v1/agents", {
      name: "greeter",
      provider: "scripted",
      model: "rules",
      script: { rules: [{ match: "my name is (\\w+)", reply: "Hello $1, nice to meet you." }] },
    });
    const session = await e2e.api("POST", "/v1/sessions", { agent: "greeter" });
    const job = await e2e.api("POST", "/v1/jobs", {
      workflow: {
        name: "greet",
        nodes: [
          { id: "hi", type: "agent", agent: "greeter", session: session.body.id, input: "My name is Ada" },
        ],
      },
    });
    for (let i = 0; i < 200; i++) {
      const state = await e2e.api("GET", `/v1/jobs/${job.body.jobId}`);
      if (state.body.status === "succeeded") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/sessions");
    await page.getByRole("link", { name: session.body.id }).click();
    const transcript = page.getByRole("list", { name: "Transcript" }).getByRole("listitem");
    await transcript.first().waitFor();

    expect(await transcript.count()).toBe(2);
    expect(await transcript.nth(0).textContent()).toContain("User");
    expect(await transcript.nth(0).textContent()).toContain("My name is Ada");
    expect(await transcript.nth(1).textContent()).toContain("Assistant");
    expect(await transcript.nth(1).textContent()).toContain("Hello Ada, nice to meet you.");
    expect(e2e.errors()).toEqual([]);
  });
});
