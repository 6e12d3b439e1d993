import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SwitchboardClient, SwitchboardError } from "../../../cli/client.ts";
import { ev, FakeApi, received } from "./fake-api.ts";

let api: FakeApi;

beforeEach(async () => {
  api = await FakeApi.start();
});

afterEach(async () => {
  await api.stop();
});

const summary = (id: string, name: string, version: number) => ({
  id,
  name,
  version,
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
  createdBy: "u1",
});
const definition = { name: "triage", nodes: [{ id: "a", type: "code", code: "return 1" }] };

async function caught(promise: Promise<unknown>): Promise<SwitchboardError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SwitchboardError);
  return error as SwitchboardError;
}

describe("SwitchboardClient requests", () => {
  it("sends an API key as x-api-key and a token as a bearer", async () => {
    api.route = () => ({ status: 200, body: { items: [] } });
    await new SwitchboardClient({ url: api.url, apiKey: "sb_k_s" }).jobs.list();
    await new SwitchboardClient({ url: api.url, token: "jwt" }).jobs.list({ status: "failed", limit: 5 });
    expect(api.requests[0]?.headers["x-api-key"]).toBe("sb_k_s");
    expect(api.requests[0]?.headers.authorization).toBeUndefined();
    expect(api.requests[1]?.headers.authorization).toBe("Bearer jwt");
    expect(api.requests[1]?.query.get("status")).toBe("failed");
    expect(api.requests[1]?.query.get("limit")).toBe("5");
  });

  it("throws the contract's error body as a SwitchboardError", async () => {
    api.route = () => ({
      status: 400,
      body: {
        code: "VALIDATION_FAILED",
        message: "Invalid request body",
        details: [{ path: "x" }],
        requestId: "r1",
      },
    });
    const error = await caught(new SwitchboardClient({ url: api.url }).jobs.create({ workflowId: "w" }));
    expect(error).toMatchObject({
      status: 400,
      code: "VALIDATION_FAILED",
      message: "Invalid request body",
      details: [{ path: "x" }],
      requestId: "r1",
    });
  });

  it("keeps the text of an error that is not the API's own", async () => {
    api.route = () => ({
      status: 413,
      raw: "Request Entity Too Large",
      headers: { "x-amzn-requestid": "gw-1" },
    });
    const error = await caught(new SwitchboardClient({ url: api.url }).jobs.get("j_1"));
    expect(error).toMatchObject({
      status: 413,
      code: "HTTP_413",
      message: "Request Entity Too Large",
      requestId: "gw-1",
    });
  });

  it("tries a throttled request again after Retry-After", async () => {
    let calls = 0;
    api.route = () => {
      calls++;
      return calls === 1
        ? {
            status: 429,
            headers: { "retry-after": "0.05" },
            body: { code: "TOO_MANY_REQUESTS", message: "slow", requestId: "r" },
          }
        : { status: 202, body: { id: "j_1", jobId: "j_1", status: "queued" } };
    };
    const created = await new SwitchboardClient({ url: api.url }).jobs.create({
      workflow: definition as never,
    });
    expect(created).toEqual({ id: "j_1", jobId: "j_1", status: "queued" });
    expect(calls).toBe(2);
  });

  it("does not send a POST again after a 5xx, but does a GET", async () => {
    let calls = 0;
    api.route = () => {
      calls++;
      return { status: 503, body: { code: "SERVICE_UNAVAILABLE", message: "later", requestId: "r" } };
    };
    const client = new SwitchboardClient({ url: api.url, retries: 2 });
    expect((await caught(client.jobs.cancel("j_1"))).status).toBe(503);
    expect(calls).toBe(1);
    expect((await caught(client.jobs.get("j_1"))).status).toBe(503);
    expect(calls).toBe(4);
  });

  it("reports a server that does not answer as status 0", async () => {
    const url = api.url;
    await api.stop();
    api = await FakeApi.start();
    const error = await caught(new SwitchboardClient({ url, retries: 0 }).health());
    expect(error).toMatchObject({ status: 0, code: "NETWORK_ERROR" });
  });

  it("refuses an answer that does not match its schema", async () => {
    api.route = () => ({ status: 200, body: { jobId: 42 } });
    const error = await caught(new SwitchboardClient({ url: api.url }).jobs.retry("j_1"));
    expect(error.code).toBe("UNEXPECTED_RESPONSE");
  });

  it("follows cursors with paginate", async () => {
    api.route = (r) =>
      r.query.get("cursor") === null
        ? { status: 200, body: { items: [summary("w1", "a", 1)], cursor: "c2" } }
        : { status: 200, body: { items: [summary("w2", "b", 1)] } };
    const client = new SwitchboardClient({ url: api.url });
    const names: string[] = [];
    for await (const w of client.paginate((cursor) => client.workflows.list(cursor))) names.push(w.name);
    expect(names).toEqual(["a", "b"]);
    expect(api.requests[1]?.query.get("cursor")).toBe("c2");
  });
});

describe("workflows.apply", () => {
  it("creates a workflow whose name is new", async () => {
    api.route = (r) =>
      r.method === "GET"
        ? { status: 200, body: { items: [summary("w1", "other", 1)] } }
        : { status: 201, body: { ...summary("w2", "triage", 1), definition } };
    const result = await new SwitchboardClient({ url: api.url }).workflows.apply(definition as never);
    expect(result.action).toBe("created");
    expect(api.requests.at(-1)).toMatchObject({ method: "POST", path: "/v1/workflows", body: definition });
  });

  it("puts a new version when the definition changed, and none when it did not", async () => {
    let stored: unknown = definition;
    api.route = (r) => {
      if (r.path === "/v1/workflows") return { status: 200, body: { items: [summary("w1", "triage", 1)] } };
      if (r.method === "GET")
        return { status: 200, body: { ...summary("w1", "triage", 1), definition: stored } };
      stored = r.body;
      return { status: 200, body: { ...summary("w1", "triage", 2), definition: r.body } };
    };
    const client = new SwitchboardClient({ url: api.url });
    expect((await client.workflows.apply(definition as never)).action).toBe("unchanged");
    const changed = { ...definition, description: "v2" };
    const updated = await client.workflows.apply(changed as never);
    expect(updated.action).toBe("updated");
    expect(updated.workflow.version).toBe(2);
    expect(api.requests.filter((r) => r.method === "PUT").map((r) => r.path)).toEqual(["/v1/workflows/w1"]);
  });
});

describe("watch", () => {
  const timeline = (events: unknown[]) => ({ status: 200, body: { items: events } });

  it("delivers each event once, in order, and resolves on the terminal status", async () => {
    api.route = () => timeline([]);
    api.onSocket = (socket, _url, got) => {
      void received(got, (m) => m.action === "subscribe").then(() => {
        socket.send(JSON.stringify({ type: "subscribed", at: "x", jobId: "j1", seq: 0 }));
        for (const e of [
          ev.job("j1", 1, "queued"),
          ev.step("j1", 3, "a", "succeeded"),
          ev.step("j1", 2, "a", "running"),
          ev.step("j1", 2, "a", "running"),
          ev.job("j1", 1, "queued"),
          ev.step("other", 4, "a", "running"),
          ev.job("j1", 4, "succeeded", "running"),
        ]) {
          socket.send(JSON.stringify(e));
        }
      });
    };
    const seen: number[] = [];
    const client = new SwitchboardClient({ url: api.url, token: "t" });
    const terminal = await client.watch("j1", (e) => seen.push(e.seq), { timeoutMs: 5_000 });
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(terminal).toMatchObject({ status: "succeeded", seq: 4 });
    expect(api.sockets[0]?.url.searchParams.get("token")).toBe("t");
    expect(api.sockets[0]?.received[0]).toEqual({ action: "subscribe", jobId: "j1", since: 0, batch: true });
  });

  it("takes the events of a batch frame in order, with single events around it", async () => {
    api.route = () => timeline([]);
    api.onSocket = (socket, _url, got) => {
      void received(got, (m) => m.action === "subscribe").then(() => {
        socket.send(JSON.stringify(ev.job("j1", 1, "queued")));
        socket.send(
          JSON.stringify({
            type: "batch",
            at: new Date().toISOString(),
            jobId: "j1",
            events: [ev.step("j1", 2, "a", "running"), ev.step("j1", 3, "a", "succeeded")],
          }),
        );
        socket.send(JSON.stringify(ev.job("j1", 4, "succeeded", "running")));
      });
    };
    const seen: number[] = [];
    const terminal = await new SwitchboardClient({ url: api.url, token: "t" }).watch(
      "j1",
      (e) => seen.push(e.seq),
      {
        timeoutMs: 5_000,
      },
    );
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(terminal).toMatchObject({ status: "succeeded", seq: 4 });
  });

  it("reconnects after a drop and subscribes again from the last event it saw", async () => {
    api.route = () => timeline([]);
    let connection = 0;
    api.onSocket = (socket, _url, got) => {
      connection++;
      const mine = connection;
      void received(got, (m) => m.action === "subscribe").then(() => {
        if (mine === 1) {
          socket.send(JSON.stringify(ev.job("j1", 1, "queued")));
          socket.send(JSON.stringify(ev.job("j1", 2, "running", "queued")));
          setTimeout(() => socket.terminate(), 20);
        } else {
          socket.send(JSON.stringify(ev.job("j1", 3, "failed", "running")));
        }
      });
    };
    const seen: number[] = [];
    const terminal = await new SwitchboardClient({ url: api.url }).watch("j1", (e) => seen.push(e.seq), {
      reconnect: { baseMs: 10 },
      timeoutMs: 5_000,
    });
    expect(terminal.status).toBe("failed");
    expect(seen).toEqual([1, 2, 3]);
    expect(api.sockets.map((s) => s.received[0].since)).toEqual([0, 2]);
  });

  it("fills a gap that the socket does not close from the REST timeline", async () => {
    api.route = (r) =>
      r.query.get("since") === "0" && api.sockets.length === 0
        ? timeline([])
        : timeline(
            [ev.step("j1", 2, "a", "running"), ev.step("j1", 3, "a", "succeeded")].filter(
              (e) => e.seq > Number(r.query.get("since")),
            ),
          );
    api.onSocket = (socket, _url, got) => {
      void received(got, (m) => m.action === "subscribe").then(() => {
        socket.send(JSON.stringify(ev.job("j1", 1, "queued")));
        socket.send(JSON.stringify(ev.job("j1", 4, "succeeded", "running")));
      });
    };
    const seen: number[] = [];
    await new SwitchboardClient({ url: api.url }).watch("j1", (e) => seen.push(e.seq), {
      gapFillMs: 20,
      timeoutMs: 5_000,
    });
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it("starts a retried job's watch after its earlier ending", async () => {
    api.route = () =>
      timeline([
        ev.job("j1", 1, "queued"),
        ev.job("j1", 2, "failed", "queued"),
        ev.job("j1", 3, "queued", "failed"),
      ]);
    api.onSocket = (socket, _url, got) => {
      void received(got, (m) => m.action === "subscribe").then(() => {
        socket.send(JSON.stringify(ev.job("j1", 4, "succeeded", "queued")));
      });
    };
    const seen: number[] = [];
    const terminal = await new SwitchboardClient({ url: api.url }).watch("j1", (e) => seen.push(e.seq), {
      timeoutMs: 5_000,
    });
    expect(terminal.status).toBe("succeeded");
    expect(seen).toEqual([3, 4]);
    expect(api.sockets[0]?.received[0].since).toBe(3);
  });

  it("resolves from the timeline alone when the job has already ended", async () => {
    api.route = () => timeline([ev.job("j1", 1, "queued"), ev.job("j1", 2, "cancelled", "queued")]);
    const terminal = await new SwitchboardClient({ url: api.url }).watch("j1", () => {}, {
      timeoutMs: 5_000,
    });
    expect(terminal.status).toBe("cancelled");
    expect(api.sockets).toHaveLength(0);
  });

  it("rejects when the socket refuses the credentials", async () => {
    api.route = () => timeline([]);
    api.refuseSockets = 401;
    const error = await caught(new SwitchboardClient({ url: api.url, token: "bad" }).watch("j1", () => {}));
    expect(error).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
  });

  it("rejects with the server's error for an unknown job", async () => {
    api.route = () => timeline([]);
    api.onSocket = (socket) => {
      socket.on("message", () =>
        socket.send(
          JSON.stringify({ type: "error", at: "x", code: "NOT_FOUND", message: "Job j9 not found" }),
        ),
      );
    };
    const error = await caught(new SwitchboardClient({ url: api.url }).watch("j9", () => {}, { since: 0 }));
    expect(error).toMatchObject({ status: 404, code: "NOT_FOUND" });
  });
});
