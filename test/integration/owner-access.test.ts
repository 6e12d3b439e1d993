import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpRoute, manifest } from "#infra/manifest";
import { type Platform, SocketClient, startPlatform } from "../support/platform.ts";
import { apiKey, bearer, createKey, createUser, expectOk, fillPath, send } from "./identity-support.ts";

/**
 * Owner-only access (`resourceAccess: "owner"`). User A creates one of each owned resource; user B (by JWT
 * and by API key) holding A's ids must get exactly what another tenant gets: 404 on every route that takes
 * the id (generated from the manifest), nothing of A in any listing, no events of A's jobs on the socket.
 * Admins and A itself keep seeing A's resources, and switching back to `tenant` opens them to B again.
 */

const MARKER = "owner-a-marker";
const OWNED = ["jobs", "workflows", "agents", "tools", "schedules"];
const workflow = (name: string) => ({ name, nodes: [{ id: "a", type: "code", code: `return "${MARKER}"` }] });

const collectionOf = (route: HttpRoute) => route.path.split("/")[2] ?? "";
const ownedRoutes = manifest.http.routes.filter(
  (route) => route.auth === "authorizer" && route.path.includes("{") && OWNED.includes(collectionOf(route)),
);
const ownedListings = manifest.http.routes.filter(
  (route) =>
    route.method === "GET" &&
    route.auth === "authorizer" &&
    OWNED.includes(collectionOf(route)) &&
    !route.path.includes("{"),
);

/** Valid bodies, so that the answer is about the resource rather than the input. */
const bodies: Record<string, unknown> = {
  updateAgent: { name: "bAgent", provider: "scripted", model: "m" },
  updateTool: { name: "bTool", description: "b", url: "https://example.com/y" },
  updateWorkflow: workflow("b-wf"),
  updateSchedule: { enabled: false },
};

type Headers = Record<string, string>;
let platform: Platform;
let userA: Headers;
let userB: Headers;
let userBKey: Headers;
let userAToken: string;
let userBToken: string;
const a: Record<string, Record<string, string>> = {};
/** Every job A started, so the socket test can look for any of them. */
const aJobs: string[] = [];

async function setMode(resourceAccess: "tenant" | "owner") {
  const result = await expectOk(platform.api("PUT", "/v1/tenant/settings", { resourceAccess }), 200);
  expect(result.resourceAccess).toBe(resourceAccess);
}

beforeAll(async () => {
  platform = await startPlatform();
  const ua = await createUser(platform.url, platform.token, "user");
  const ub = await createUser(platform.url, platform.token, "user");
  userAToken = ua.token;
  userBToken = ub.token;
  userA = bearer(ua.token);
  userB = bearer(ub.token);
  userBKey = apiKey((await createKey(platform.url, userB, "user")).key);

  const job = await expectOk(
    send(platform.url, userA, "POST", "/v1/jobs", { workflow: workflow(`${MARKER}-job`) }),
    202,
  );
  a.jobs = { id: job.jobId };
  aJobs.push(job.jobId);
  const wf = await expectOk(
    send(platform.url, userA, "POST", "/v1/workflows", workflow(`${MARKER}-wf`)),
    201,
  );
  a.workflows = { id: wf.id, version: "1" };
  const agent = await expectOk(
    send(platform.url, userA, "POST", "/v1/agents", {
      name: "aAgent",
      provider: "scripted",
      model: "m",
      systemPrompt: MARKER,
    }),
    201,
  );
  a.agents = { id: agent.id };
  const tool = await expectOk(
    send(platform.url, userA, "POST", "/v1/tools", {
      name: "aTool",
      description: MARKER,
      url: "https://example.com/x",
    }),
    201,
  );
  a.tools = { id: tool.id };
  const schedule = await expectOk(
    send(platform.url, userA, "POST", "/v1/schedules", {
      name: `${MARKER}-schedule`,
      workflowId: wf.id,
      expression: "rate(1 day)",
      enabled: false,
    }),
    201,
  );
  a.schedules = { id: schedule.id };
}, 120_000);

afterAll(async () => {
  await platform?.stop();
});

describe("the setting", () => {
  it("defaults to tenant, is readable by everyone and changed only by admins", async () => {
    expect((await send(platform.url, userB, "GET", "/v1/tenant/settings")).body).toMatchObject({
      resourceAccess: "tenant",
    });
    const refused = await send(platform.url, userB, "PUT", "/v1/tenant/settings", {
      resourceAccess: "owner",
    });
    expect(refused.status).toBe(403);
    const invalid = await platform.api("PUT", "/v1/tenant/settings", { resourceAccess: "everyone" });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ code: "VALIDATION_FAILED", requestId: expect.any(String) });
  });

  it("in tenant mode, B sees A's resources", async () => {
    for (const [collection, { id }] of Object.entries(a)) {
      const result = await send(platform.url, userB, "GET", `/v1/${collection}/${id}`);
      expect(result.status, collection).toBe(200);
    }
  });
});

describe("owner mode", () => {
  beforeAll(async () => {
    await setMode("owner");
  });

  it("covers every owned collection that a parameterised route names", () => {
    expect([...new Set(ownedRoutes.map(collectionOf))].sort()).toEqual([...OWNED].sort());
  });

  describe.each(ownedRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    "user B on %s with A's ids",
    (_, route) => {
      it.each([
        ["JWT", () => userB],
        ["API key", () => userBKey],
      ] as const)("answers 404 and nothing of A (%s)", async (_kind, who) => {
        const path = fillPath(route.path, a[collectionOf(route)] ?? {});
        const body =
          route.method === "GET" || route.method === "DELETE" ? undefined : (bodies[route.id] ?? {});
        const result = await send(platform.url, who(), route.method, path, body);
        expect(result.status, JSON.stringify(result.body)).toBe(404);
        expect(result.body).toMatchObject({ code: "NOT_FOUND", requestId: expect.any(String) });
        expect(JSON.stringify(result.body)).not.toContain(MARKER);
      });
    },
  );

  it.each(ownedListings.map((route) => [route.path] as const))(
    "B's GET %s shows nothing of A",
    async (path) => {
      const result = await send(platform.url, userB, "GET", path);
      expect(result.status).toBe(200);
      expect(JSON.stringify(result.body)).not.toContain(MARKER);
      const ids = (result.body.items as { id: string }[]).map((item) => item.id);
      for (const { id } of Object.values(a)) expect(ids).not.toContain(id);
    },
  );

  it("A and the admin still see and list A's resources", async () => {
    for (const who of [userA, bearer(platform.token)]) {
      for (const [collection, { id }] of Object.entries(a)) {
        const one = await send(platform.url, who, "GET", `/v1/${collection}/${id}`);
        expect(one.status, `${collection}: ${JSON.stringify(one.body)}`).toBe(200);
        const list = await send(platform.url, who, "GET", `/v1/${collection}`);
        expect(
          list.body.items.map((item: { id: string }) => item.id),
          collection,
        ).toContain(id);
      }
    }
  });

  it("B cannot start a job from A's workflow, but runs and lists its own", async () => {
    const refused = await send(platform.url, userB, "POST", "/v1/jobs", { workflowId: a.workflows?.id });
    expect(refused.status).toBe(404);
    const own = await expectOk(
      send(platform.url, userB, "POST", "/v1/jobs", { workflow: workflow("b-own") }),
      202,
    );
    const list = await send(platform.url, userB, "GET", "/v1/jobs");
    expect(list.body.items.map((job: { id: string }) => job.id)).toEqual([own.jobId]);
    expect((await send(platform.url, userB, "POST", `/v1/jobs/${own.jobId}/cancel`)).status).not.toBe(404);
  });

  it("filtered pages still fill, and their cursors continue where they stopped", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { jobId } = await expectOk(
        send(platform.url, userA, "POST", "/v1/jobs", { workflow: workflow(`a-${i}`) }),
        202,
      );
      mine.push(jobId);
      aJobs.push(jobId);
      await expectOk(send(platform.url, userB, "POST", "/v1/jobs", { workflow: workflow(`b-${i}`) }), 202);
    }
    const first = await send(platform.url, userA, "GET", "/v1/jobs?limit=2");
    expect(first.body.items).toHaveLength(2);
    expect(first.body.cursor).toEqual(expect.any(String));
    const second = await send(platform.url, userA, "GET", `/v1/jobs?limit=2&cursor=${first.body.cursor}`);
    const seen = [...first.body.items, ...second.body.items].map((job: { id: string }) => job.id);
    expect(seen).toEqual([...mine.reverse(), a.jobs?.id].slice(0, seen.length));
    expect(seen.length).toBe(4);
    for (const job of [...first.body.items, ...second.body.items])
      expect(job.createdBy).toBe(first.body.items[0].createdBy);
  });

  it("the socket gives B neither A's job by id nor A's events under `all`, and B's own events still", async () => {
    const b = await SocketClient.open(platform.wsUrl, userBToken);
    const admin = await SocketClient.open(platform.wsUrl, platform.token);
    try {
      b.send({ action: "subscribe", jobId: a.jobs?.id });
      expect((await b.waitFor((m) => m.type === "error")).code).toBe("NOT_FOUND");
      b.send({ action: "subscribe", all: true });
      admin.send({ action: "subscribe", all: true });
      await b.waitFor((m) => m.type === "subscribed" && m.all === true);
      await admin.waitFor((m) => m.type === "subscribed" && m.all === true);

      const ofA = await expectOk(
        send(platform.url, userA, "POST", "/v1/jobs", { workflow: workflow("ws-a") }),
        202,
      );
      const ofB = await expectOk(
        send(platform.url, userB, "POST", "/v1/jobs", { workflow: workflow("ws-b") }),
        202,
      );
      await admin.waitFor(
        (m) => m.jobId === ofA.jobId && m.type === "job.status_changed" && m.status === "succeeded",
      );
      await admin.waitFor(
        (m) => m.jobId === ofB.jobId && m.type === "job.status_changed" && m.status === "succeeded",
      );
      await b.waitFor(
        (m) => m.jobId === ofB.jobId && m.type === "job.status_changed" && m.status === "succeeded",
      );
      const ofAnyA = new Set([ofA.jobId, ...aJobs]);
      expect(b.messages.filter((m) => ofAnyA.has(m.jobId))).toEqual([]);
      const list = await send(platform.url, userB, "GET", "/v1/jobs?limit=100");
      const ofAnyB = new Set(list.body.items.map((job: { id: string }) => job.id));
      expect(b.messages.filter((m) => m.jobId !== undefined && !ofAnyB.has(m.jobId))).toEqual([]);
    } finally {
      await b.close();
      await admin.close();
    }
  });

  it("A subscribes to its own job by id", async () => {
    const socket = await SocketClient.open(platform.wsUrl, userAToken);
    try {
      socket.send({ action: "subscribe", jobId: a.jobs?.id });
      await socket.waitFor((m) => m.type === "subscribed" && m.jobId === a.jobs?.id);
    } finally {
      await socket.close();
    }
  });
});

describe("back to tenant mode", () => {
  it("opens A's resources to B again", async () => {
    await setMode("tenant");
    for (const [collection, { id }] of Object.entries(a)) {
      expect((await send(platform.url, userB, "GET", `/v1/${collection}/${id}`)).status, collection).toBe(
        200,
      );
    }
  });
});
