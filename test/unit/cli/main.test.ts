import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveCommand, UsageError } from "../../../cli/args.ts";
import { saveLogin } from "../../../cli/credentials.ts";
import { commands, main } from "../../../cli/main.ts";
import { ev, FakeApi, jobBody, received } from "./fake-api.ts";

let api: FakeApi;
let home: string;

beforeEach(async () => {
  api = await FakeApi.start();
  home = await mkdtemp(join(tmpdir(), "switchboard-cli-"));
});

afterEach(async () => {
  await api.stop();
  await rm(home, { recursive: true, force: true });
});

class Capture {
  text = "";
  constructor(readonly isTTY = false) {}
  write(chunk: string) {
    this.text += chunk;
    return true;
  }
}

async function cli(
  argv: string[],
  options: { env?: Record<string, string>; stdin?: string; tty?: boolean } = {},
) {
  const stdout = new Capture(options.tty === true);
  const stderr = new Capture();
  const code = await main(argv, {
    stdout,
    stderr,
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: { SWITCHBOARD_URL: api.url, XDG_CONFIG_HOME: home, ...options.env },
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe("argument parsing", () => {
  it("picks the longest matching command and parses its options", () => {
    const resolved = resolveCommand(commands, ["jobs", "run", "wf", "--input", '{"a":1}', "-w", "--json"]);
    expect(resolved.kind).toBe("command");
    if (resolved.kind !== "command") return;
    expect(resolved.command.path).toEqual(["jobs", "run"]);
    expect(resolved.args.positionals).toEqual(["wf"]);
    expect(resolved.args.values).toMatchObject({ input: '{"a":1}', watch: true, json: true });
  });

  it("refuses unknown options, missing and extra arguments as usage errors", () => {
    expect(() => resolveCommand(commands, ["jobs", "list", "--bogus"])).toThrow(UsageError);
    expect(() => resolveCommand(commands, ["jobs", "get"])).toThrow(/Missing <id>/);
    expect(() => resolveCommand(commands, ["jobs", "get", "a", "b"])).toThrow(/Unexpected argument: b/);
    expect(() => resolveCommand(commands, ["frobnicate"])).toThrow(/Unknown command/);
  });

  it("answers --help for the whole tool, a group and a command", () => {
    expect(resolveCommand(commands, ["--help"])).toMatchObject({
      kind: "help",
      text: expect.stringContaining("jobs run"),
    });
    expect(resolveCommand(commands, ["approvals"])).toMatchObject({
      kind: "help",
      text: expect.stringContaining("approvals reject"),
    });
    const help = resolveCommand(commands, ["jobs", "run", "--help"]);
    expect(help).toMatchObject({ kind: "help", text: expect.stringContaining("--idempotency-key <key>") });
  });
});

describe("exit codes and output", () => {
  it("exits 2 on a usage error without calling the API", async () => {
    const result = await cli(["jobs", "run", "wf", "--input", "{not json"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--input is not valid JSON/);
    expect(api.requests).toHaveLength(0);
  });

  it("exits 3 on an API error and says what it was", async () => {
    api.route = () => ({
      status: 404,
      body: { code: "NOT_FOUND", message: "Job j_x not found", requestId: "req-9" },
    });
    const result = await cli(["jobs", "get", "j_x"], { env: { SWITCHBOARD_API_KEY: "sb_a_b" } });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("Error: Job j_x not found (NOT_FOUND, HTTP 404, request req-9)");
    const json = await cli(["jobs", "get", "j_x", "--json"]);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: { status: 404, code: "NOT_FOUND", requestId: "req-9" },
    });
  });

  it("prints jobs list as JSON with --json", async () => {
    const item = { ...jobBody("j_1", "succeeded"), steps: undefined, definition: undefined };
    api.route = () => ({ status: 200, body: { items: [item], cursor: "next" } });
    const result = await cli(["jobs", "list", "--json", "--status", "succeeded", "-n", "1"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      items: [{ id: "j_1", status: "succeeded" }],
      cursor: "next",
    });
    expect(api.requests[0]?.query.get("status")).toBe("succeeded");
  });

  for (const [outcome, code] of [
    ["succeeded", 0],
    ["failed", 1],
  ] as const) {
    it(`jobs run --watch exits ${code} when the job ${outcome}`, async () => {
      const file = join(home, "wf.json");
      await writeFile(
        file,
        JSON.stringify({ name: "wf", nodes: [{ id: "a", type: "code", code: "return 1" }] }),
      );
      api.route = (r) => {
        if (r.method === "POST") return { status: 202, body: { id: "j_1", jobId: "j_1", status: "queued" } };
        if (r.path.endsWith("/events")) return { status: 200, body: { items: [] } };
        return { status: 200, body: jobBody("j_1", outcome, [{ nodeId: "a", status: outcome }]) };
      };
      api.onSocket = (socket, _url, got) => {
        void received(got, (m) => m.action === "subscribe").then(() => {
          socket.send(JSON.stringify(ev.job("j_1", 1, "queued")));
          socket.send(JSON.stringify(ev.step("j_1", 2, "a", "running")));
          socket.send(JSON.stringify(ev.step("j_1", 3, "a", outcome)));
          socket.send(JSON.stringify(ev.job("j_1", 4, outcome, "running")));
        });
      };
      const result = await cli(["jobs", "run", file, "--input", '{"n":1}', "--watch"]);
      expect(result.code).toBe(code);
      expect(api.requests[0]?.body).toMatchObject({ workflow: { name: "wf" }, input: { n: 1 } });
      expect(result.stdout).toContain(`step a ${outcome} (attempt 1`);
      expect(result.stdout).toContain(`job j_1 ${outcome}`);
    });
  }

  it("draws a progress bar on a terminal", async () => {
    api.route = (r) =>
      r.path.endsWith("/events")
        ? { status: 200, body: { items: [ev.job("j_1", 1, "queued"), ev.step("j_1", 2, "a", "succeeded")] } }
        : {
            status: 200,
            body: jobBody("j_1", "running", [
              { nodeId: "a", status: "queued" },
              { nodeId: "b", status: "pending" },
            ]),
          };
    api.onSocket = (socket, _url, got) => {
      void received(got, (m) => m.action === "subscribe").then(() => {
        socket.send(JSON.stringify(ev.step("j_1", 3, "b", "succeeded")));
        socket.send(JSON.stringify(ev.job("j_1", 4, "succeeded", "running")));
      });
    };
    const result = await cli(["jobs", "watch", "j_1"], { tty: true });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("] 1/2 steps");
    expect(result.stdout).toContain("[########################] 2/2 steps  succeeded");
  });
});

describe("login and credentials", () => {
  const tokens = (access: string) => ({
    accessToken: access,
    refreshToken: `r-${access}`,
    expiresIn: 900,
    tokenType: "Bearer",
  });

  it("stores tokens owner-only and uses them on the next command", async () => {
    api.route = (r) =>
      r.path === "/v1/auth/login"
        ? { status: 200, body: tokens("a1") }
        : { status: 200, body: { items: [] } };
    const login = await cli(["login", "-e", "a@b.co", "--password-stdin"], { stdin: "secret\n" });
    expect(login.code).toBe(0);
    expect(api.requests[0]?.body).toEqual({ email: "a@b.co", password: "secret" });
    const file = join(home, "switchboard", "credentials.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8")).profiles[api.url].accessToken).toBe("a1");
    await cli(["jobs", "list"]);
    expect(api.requests[1]?.headers.authorization).toBe("Bearer a1");
  });

  it("prints the tokens with --json instead of keeping them", async () => {
    api.route = () => ({ status: 200, body: tokens("a2") });
    const result = await cli(["login", "-e", "a@b.co", "-p", "pw", "--json"]);
    expect(JSON.parse(result.stdout).accessToken).toBe("a2");
    await expect(stat(join(home, "switchboard", "credentials.json"))).rejects.toThrow(/ENOENT/);
  });

  it("refreshes an expired stored login and keeps the rotated tokens", async () => {
    const file = join(home, "switchboard", "credentials.json");
    await saveLogin(
      api.url,
      {
        accessToken: "old",
        refreshToken: "r-old",
        expiresAt: new Date(Date.now() - 1000).toISOString(),
        savedAt: "x",
      },
      file,
    );
    api.route = (r) =>
      r.path === "/v1/auth/refresh"
        ? { status: 200, body: tokens("new") }
        : { status: 200, body: { items: [] } };
    const result = await cli(["jobs", "list"]);
    expect(result.code).toBe(0);
    expect(api.requests[0]?.body).toEqual({ refreshToken: "r-old" });
    expect(api.requests[1]?.headers.authorization).toBe("Bearer new");
    expect(JSON.parse(await readFile(file, "utf8")).profiles[api.url].refreshToken).toBe("r-new");
  });

  it("prefers SWITCHBOARD_API_KEY over a stored login", async () => {
    await saveLogin(
      api.url,
      {
        accessToken: "a",
        refreshToken: "r",
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
        savedAt: "x",
      },
      join(home, "switchboard", "credentials.json"),
    );
    api.route = () => ({ status: 200, body: { items: [] } });
    await cli(["jobs", "list"], { env: { SWITCHBOARD_API_KEY: "sb_k_s" } });
    expect(api.requests[0]?.headers["x-api-key"]).toBe("sb_k_s");
    expect(api.requests[0]?.headers.authorization).toBeUndefined();
  });
});
