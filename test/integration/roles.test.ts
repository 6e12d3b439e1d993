import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpRoute, manifest, type Role } from "#infra/manifest";
import { type Platform, request, startPlatform } from "../support/platform.ts";
import { apiKey, bearer, createKey, createTenant, createUser, fillPath, send } from "./identity-support.ts";

/**
 * Every manifest route × every kind of caller. The table is generated from `manifest.http.routes`, so a new
 * route is in it the moment it is declared: its roles are checked here before anyone remembers to.
 */

interface Caller {
  name: string;
  role: Role;
  platformAdmin: boolean;
}

const callers: Caller[] = [
  { name: "platform admin (JWT)", role: "admin", platformAdmin: true },
  { name: "tenant admin (JWT)", role: "admin", platformAdmin: false },
  { name: "user (JWT)", role: "user", platformAdmin: false },
  { name: "viewer (JWT)", role: "viewer", platformAdmin: false },
  { name: "admin API key", role: "admin", platformAdmin: false },
  { name: "user API key", role: "user", platformAdmin: false },
  { name: "viewer API key", role: "viewer", platformAdmin: false },
];

const protectedRoutes = manifest.http.routes.filter((route) => route.auth === "authorizer");
const publicRoutes = manifest.http.routes.filter((route) => route.auth === "public");

/** Ids that exist nowhere, and bodies that are not valid: an allowed caller gets 400 or 404, never 401 or 403. */
const MISSING = "doesnotexist000000000000";
function call(route: HttpRoute, headers: Record<string, string>) {
  const path = fillPath(route.path, new Proxy({}, { get: () => MISSING }) as Record<string, string>);
  const body = route.method === "GET" || route.method === "DELETE" ? undefined : {};
  return send(platform.url, headers, route.method, path, body);
}

function allowed(route: HttpRoute, caller: Caller): boolean {
  return route.roles.includes(caller.role) && (route.platformAdmin !== true || caller.platformAdmin);
}

let platform: Platform;
const credentials = new Map<string, Record<string, string>>();

beforeAll(async () => {
  platform = await startPlatform();
  const base = platform.url;
  const tenant = await createTenant(platform, "Other");
  const user = await createUser(base, platform.token, "user");
  const viewer = await createUser(base, platform.token, "viewer");
  const admin = bearer(platform.token);
  credentials.set("platform admin (JWT)", admin);
  credentials.set("tenant admin (JWT)", bearer(tenant.token));
  credentials.set("user (JWT)", bearer(user.token));
  credentials.set("viewer (JWT)", bearer(viewer.token));
  credentials.set("admin API key", apiKey((await createKey(base, admin, "admin")).key));
  credentials.set("user API key", apiKey((await createKey(base, admin, "user")).key));
  credentials.set("viewer API key", apiKey((await createKey(base, admin, "viewer")).key));
});

afterAll(async () => {
  await platform?.stop();
});

describe("the route table covers the identity routes", () => {
  it("declares the identity routes with their roles", () => {
    const roles = Object.fromEntries(manifest.http.routes.map((r) => [r.id, [...r.roles].sort().join(",")]));
    expect(roles).toMatchObject({
      createTenant: "admin",
      listUsers: "admin",
      createUser: "admin",
      getUser: "admin",
      updateUser: "admin",
      deleteUser: "admin",
      createApiKey: "admin,user",
      listApiKeys: "admin,user",
      revokeApiKey: "admin,user",
      listAudit: "admin",
    });
    expect(manifest.http.routes.find((r) => r.id === "createTenant")?.platformAdmin).toBe(true);
  });
});

/**
 * Owner-only access narrows what a user sees, never what its role may call: the matrix is the same in both
 * modes (what owner mode hides is test/integration/owner-access.test.ts).
 */
describe.each(["tenant", "owner"] as const)("with resourceAccess %s", (mode) => {
  beforeAll(async () => {
    const result = await platform.api("PUT", "/v1/tenant/settings", { resourceAccess: mode });
    expect(result.status).toBe(200);
  });

  describe.each(protectedRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    "%s",
    (_, route) => {
      it("answers 401 without credentials", async () => {
        const result = await call(route, {});
        expect(result.status).toBe(401);
      });

      it.each(callers.map((caller) => [caller.name, caller] as const))("%s", async (name, caller) => {
        const result = await call(route, credentials.get(name) ?? {});
        if (allowed(route, caller)) {
          expect([401, 403], `${name} was refused: ${JSON.stringify(result.body)}`).not.toContain(
            result.status,
          );
        } else {
          expect(result.status).toBe(403);
          expect(result.body).toMatchObject({ code: "FORBIDDEN", requestId: expect.any(String) });
        }
      });
    },
  );
});

describe.each(publicRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))(
  "%s (public)",
  (_, route) => {
    it("answers without credentials", async () => {
      const result = await request(
        platform.url,
        route.method,
        route.path,
        route.method === "POST" ? {} : undefined,
      );
      expect([401, 403]).not.toContain(result.status);
    });
  },
);

describe("what each role may do, end to end", () => {
  it("a viewer reads jobs but cannot start one", async () => {
    const viewer = credentials.get("viewer (JWT)") ?? {};
    expect((await send(platform.url, viewer, "GET", "/v1/jobs")).status).toBe(200);
    const refused = await send(platform.url, viewer, "POST", "/v1/jobs", {
      workflow: { name: "w", nodes: [{ id: "a", type: "code", code: "return 1" }] },
    });
    expect(refused.status).toBe(403);
  });

  it("a user starts a job and mints a key of its own role, but not an admin key", async () => {
    const user = credentials.get("user (JWT)") ?? {};
    const job = await send(platform.url, user, "POST", "/v1/jobs", {
      workflow: { name: "w", nodes: [{ id: "a", type: "code", code: "return 1" }] },
    });
    expect(job.status).toBe(202);
    expect(
      (await send(platform.url, user, "POST", "/v1/api-keys", { name: "mine", role: "user" })).status,
    ).toBe(201);
    expect(
      (await send(platform.url, user, "POST", "/v1/api-keys", { name: "mine", role: "admin" })).status,
    ).toBe(403);
    expect((await send(platform.url, user, "GET", "/v1/users")).status).toBe(403);
  });
});
