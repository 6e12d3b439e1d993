/**
 * The real CLI, built as `npm install` builds it (`cli/dist/switchboard.mjs`, what `npx switchboard` runs),
 * against the platform on the twin, with an API key in SWITCHBOARD_API_KEY, in a throwaway HOME.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_EMAIL, ADMIN_PASSWORD, type Platform, startPlatform } from "../support/platform.ts";

const BIN = resolve(import.meta.dirname, "../../cli/dist/switchboard.mjs");

let platform: Platform;
let home: string;
let apiKey: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      // A clean environment: nothing of the outer shell's SWITCHBOARD_* leaks in.
      env: {
        PATH: process.env.PATH ?? "",
        HOME: home,
        SWITCHBOARD_URL: platform.url,
        SWITCHBOARD_API_KEY: apiKey,
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

const doubling = {
  name: "cli-double",
  nodes: [{ id: "double", type: "code", input: { n: "{% $input.n %}" }, code: "return input.n * 2" }],
  output: { result: "{% $steps.double.output %}" },
};

beforeAll(async () => {
  execFileSync(process.execPath, [resolve(import.meta.dirname, "../../cli/build.mjs")]);
  platform = await startPlatform();
  home = await mkdtemp(join(tmpdir(), "switchboard-cli-home-"));
  const created = await platform.api("POST", "/v1/api-keys", { name: "cli-test", role: "user" });
  expect(created.status).toBe(201);
  apiKey = created.body.key;
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

describe("switchboard CLI against the twin", () => {
  it("manages a resource with --output table and --output json", async () => {
    const file = join(home, "agent.json");
    await writeFile(file, JSON.stringify({ name: "cli-agent", provider: "scripted", model: "m" }));
    const created = await cli(["agents", "create", "-f", file]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^ID\s+NAME\s+PROVIDER/);
    expect(created.stdout).toContain("cli-agent");
    const again = await cli(["agents", "create", "-f", file, "--output", "json"]);
    expect(again.code).toBe(3);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { status: 409, code: "CONFLICT" } });
    const list = await cli(["agents", "list", "-o", "json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).items).toEqual([expect.objectContaining({ name: "cli-agent" })]);
    const removed = await cli(["agents", "delete", "cli-agent"]);
    expect(removed.stdout).toBe("Deleted cli-agent\n");
    const bad = await cli(["agents", "list", "--output", "yaml"]);
    expect(bad.code).toBe(2);
  });

  it("covers collections, sessions, limits, settings and job stats", async () => {
    const file = join(home, "collection.json");
    await writeFile(file, JSON.stringify({ name: "cli-notes" }));
    const created = await cli(["collections", "create", "-f", file]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toMatch(/^NAME\s+DOCUMENTS/);
    const collections = await cli(["collections", "list", "-o", "json"]);
    expect(JSON.parse(collections.stdout).items).toEqual([expect.objectContaining({ name: "cli-notes" })]);
    expect((await cli(["collections", "delete", "cli-notes"])).stdout).toBe("Deleted cli-notes\n");
    const sessions = await cli(["sessions", "list", "-o", "json"]);
    expect(sessions.code).toBe(0);
    expect(JSON.parse(sessions.stdout)).toHaveProperty("items");
    const limits = await cli(["limits", "show", "-o", "json"]);
    expect(limits.code).toBe(0);
    expect(JSON.parse(limits.stdout)).toHaveProperty("agents");
    const settings = await cli(["settings", "show"]);
    expect(settings.stdout).toMatch(/RESOURCE ACCESS[\s\S]*tenant/);
    const stats = await cli(["stats", "jobs", "-o", "json"]);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ bucket: "hour", truncated: false });
    // Admin-only resources answer a user's key with the API's 403, as exit code 3.
    const targets = await cli(["notification-targets", "list", "-o", "json"]);
    expect(targets.code).toBe(3);
    expect(JSON.parse(targets.stderr)).toMatchObject({ error: { status: 403 } });
  });

  it("applies a workflow by name: created, unchanged, then a new version", async () => {
    const file = join(home, "double.json");
    await writeFile(file, JSON.stringify(doubling));
    const first = await cli(["workflows", "apply", "-f", file]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^created cli-double \(\S+, version 1\)/);

    const again = await cli(["workflows", "apply", "-f", file, "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      action: "unchanged",
      workflow: { name: "cli-double", version: 1 },
    });

    await writeFile(file, JSON.stringify({ ...doubling, description: "doubles n" }));
    const changed = await cli(["workflows", "apply", "-f", file]);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toMatch(/^updated cli-double \(\S+, version 2\)/);

    const list = await cli(["workflows", "list", "--json"]);
    expect(JSON.parse(list.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "cli-double", version: 2 })]),
    );
  });

  it("runs a stored workflow with --watch, shows its steps and exits 0", async () => {
    const run = await cli(["jobs", "run", "cli-double", "--input", '{"n":21}', "--watch"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^job j_\S+ queued\n/);
    expect(run.stdout).toMatch(/step double succeeded \(attempt 1, [\d.]+ m?s\)/);
    expect(run.stdout).toMatch(/job j_\S+ succeeded in/);
    expect(run.stdout).toContain('"result": 42');
  });

  it("exits 1 when the watched job fails, with the step's error", async () => {
    const file = join(home, "boom.json");
    await writeFile(
      file,
      JSON.stringify({
        name: "cli-boom",
        nodes: [{ id: "a", type: "code", code: "throw new Error('nope')" }],
      }),
    );
    const run = await cli(["jobs", "run", file, "--watch"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/step a failed \(attempt 1.*CODE_ERROR/);
    expect(run.stdout).toMatch(/job j_\S+ failed in/);
  });

  it("lists jobs as JSON", async () => {
    const list = await cli(["jobs", "list", "--json", "--limit", "10"]);
    expect(list.code).toBe(0);
    const body = JSON.parse(list.stdout);
    const names = body.items.map((job: { workflowName: string }) => job.workflowName);
    expect(names).toEqual(expect.arrayContaining(["cli-double", "cli-boom"]));
    const failed = await cli(["jobs", "list", "--json", "--status", "failed"]);
    expect(JSON.parse(failed.stdout).items.every((job: { status: string }) => job.status === "failed")).toBe(
      true,
    );
  });

  it("decides an approval and the job goes on", async () => {
    const file = join(home, "gate.json");
    await writeFile(
      file,
      JSON.stringify({
        name: "cli-gate",
        nodes: [
          { id: "ask", type: "approval", message: "Ship it?" },
          { id: "after", type: "code", code: "return 'shipped'", dependsOn: ["ask"] },
        ],
      }),
    );
    const started = await cli(["jobs", "run", file, "--json"]);
    expect(started.code).toBe(0);
    const { jobId } = JSON.parse(started.stdout);
    let approval: { id: string } | undefined;
    for (let i = 0; i < 100 && approval === undefined; i++) {
      const list = await cli(["approvals", "list", "--json"]);
      approval = JSON.parse(list.stdout).find((a: { jobId: string }) => a.jobId === jobId);
      if (approval === undefined) await new Promise((r) => setTimeout(r, 200));
    }
    expect(approval).toBeDefined();
    const decided = await cli([
      "approvals",
      "approve",
      (approval as { id: string }).id,
      "--comment",
      "from the CLI",
    ]);
    expect(decided.code).toBe(0);
    expect(decided.stdout).toContain("approved");
    const watched = await cli(["jobs", "watch", jobId]);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(/step after succeeded/);
  });

  it("creates, lists and revokes an API key", async () => {
    const created = await cli(["keys", "create", "--name", "ci", "--role", "viewer", "--json"]);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key).toMatchObject({ name: "ci", role: "viewer", key: expect.stringMatching(/^sb_/) });
    const asViewer = await cli(["jobs", "list", "--json"], { env: { SWITCHBOARD_API_KEY: key.key } });
    expect(asViewer.code).toBe(0);
    const listed = await cli(["keys", "list", "--json"]);
    expect(JSON.parse(listed.stdout).map((k: { id: string }) => k.id)).toContain(key.id);
    const revoked = await cli(["keys", "revoke", key.id]);
    expect(revoked.code).toBe(0);
    const refused = await cli(["jobs", "list"], { env: { SWITCHBOARD_API_KEY: key.key } });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/HTTP 401/);
  });

  it("signs in, keeps the tokens owner-only, and uses them without an API key", async () => {
    const login = await cli(["login", "--email", ADMIN_EMAIL, "--password-stdin"], {
      env: { SWITCHBOARD_API_KEY: "" },
      stdin: `${ADMIN_PASSWORD}\n`,
    });
    expect(login.stderr).toBe("");
    expect(login.code).toBe(0);
    const file = join(home, ".config", "switchboard", "credentials.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const me = await cli(["whoami", "--json"], { env: { SWITCHBOARD_API_KEY: "" } });
    expect(me.code).toBe(0);
    expect(JSON.parse(me.stdout)).toMatchObject({ email: ADMIN_EMAIL, principalType: "user", role: "admin" });
  });

  it("exits 2 on a usage error and 3 on an API error", async () => {
    const usage = await cli(["jobs", "run"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Missing <workflow>");
    const missing = await cli(["jobs", "get", "j_nope"]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/not found \(NOT_FOUND, HTTP 404, request \S+\)/);
    const help = await cli(["jobs", "run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: switchboard jobs run <workflow> [options]");
  });
});
