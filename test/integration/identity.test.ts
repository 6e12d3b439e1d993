import { createHmac, generateKeyPairSync } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jwtSecret } from "#infra/local/data-dir";
import { usagePlanLimits } from "#infra/stack/limits";
import { login, type Platform, request, SocketClient, startPlatform } from "../support/platform.ts";
import { apiKey, bearer, createKey, createUser, expectOk, PASSWORD, send } from "./identity-support.ts";

/** The viewer plan's burst, refilled more slowly than even a busy machine answers, so a burst overflows. */
const viewerPlan = { ...usagePlanLimits.viewer, rateLimit: 2 };
let platform: Platform;
let secret: string;
let adminId: string;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const me = (headers: Record<string, string>) =>
  request<any>(platform.url, "GET", "/v1/me", undefined, headers);

beforeAll(async () => {
  platform = await startPlatform({ usagePlans: { viewer: viewerPlan } });
  secret = (await jwtSecret(platform.twin.dataDir)).value;
  adminId = (await platform.api("GET", "/v1/me")).body.principalId;
});

afterAll(async () => {
  await platform?.stop();
});

describe("tokens", () => {
  it("refresh rotates; replaying a rotated refresh token is refused and revokes the whole family", async () => {
    const first = await expectOk(
      request<any>(platform.url, "POST", "/v1/auth/login", {
        email: "admin@switchboard.test",
        password: "correct-horse-battery-staple",
      }),
      200,
    );
    expect(first).toMatchObject({ expiresIn: 900, tokenType: "Bearer" });
    const second = await expectOk(
      request<any>(platform.url, "POST", "/v1/auth/refresh", { refreshToken: first.refreshToken }),
      200,
    );
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect((await me(bearer(second.accessToken))).status).toBe(200);

    const replay = await request<any>(platform.url, "POST", "/v1/auth/refresh", {
      refreshToken: first.refreshToken,
    });
    expect(replay.status).toBe(401);
    // The thief's replay also ends the owner's session: the newest token of the family is dead too.
    const newest = await request<any>(platform.url, "POST", "/v1/auth/refresh", {
      refreshToken: second.refreshToken,
    });
    expect(newest.status).toBe(401);
  });

  it("answers the same 401 whether the email is unknown or the password wrong", async () => {
    const unknown = await request<any>(platform.url, "POST", "/v1/auth/login", {
      email: "nobody@x.test",
      password: "whatever-pass",
    });
    const wrong = await request<any>(platform.url, "POST", "/v1/auth/login", {
      email: "admin@switchboard.test",
      password: "wrong-password!",
    });
    expect([unknown.status, wrong.status]).toEqual([401, 401]);
    expect(unknown.body.message).toBe(wrong.body.message);
  });
});

describe("JWT attacks through the gateway", () => {
  const claims = () => ({
    tid: "default",
    role: "admin",
    email: "admin@switchboard.test",
    typ: "access",
    pa: true,
  });
  const options = (): jwt.SignOptions => ({
    algorithm: "HS256",
    subject: adminId,
    issuer: "switchboard",
    audience: "switchboard",
    expiresIn: 900,
  });

  it("accepts a correctly signed token (the control case)", async () => {
    expect((await me(bearer(jwt.sign(claims(), secret, options())))).status).toBe(200);
  });

  const attacks: [string, () => string][] = [
    ["alg none", () => jwt.sign(claims(), "", { ...options(), algorithm: "none" })],
    [
      "a tampered payload under the original signature",
      () => {
        const [header, , signature] = jwt.sign({ ...claims(), role: "viewer" }, secret, options()).split(".");
        const payload = Buffer.from(
          JSON.stringify({
            ...claims(),
            sub: adminId,
            iss: "switchboard",
            aud: "switchboard",
            exp: 9999999999,
          }),
        ).toString("base64url");
        return `${header}.${payload}.${signature}`;
      },
    ],
    ["a token signed with another secret", () => jwt.sign(claims(), "x".repeat(64), options())],
    [
      "an expired token",
      () => {
        const { expiresIn: _, ...rest } = options();
        return jwt.sign({ ...claims(), exp: Math.floor(Date.now() / 1000) - 5 }, secret, rest);
      },
    ],
    ["the wrong audience", () => jwt.sign(claims(), secret, { ...options(), audience: "someone-else" })],
    ["the wrong issuer", () => jwt.sign(claims(), secret, { ...options(), issuer: "someone-else" })],
    [
      "a refresh token presented as an access token",
      () => jwt.sign({ ...claims(), typ: "refresh" }, secret, options()),
    ],
    [
      "RS256 signed with the attacker's own key (algorithm confusion)",
      () => {
        const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
        return jwt.sign(claims(), privateKey.export({ type: "pkcs8", format: "pem" }), {
          ...options(),
          algorithm: "RS256",
        });
      },
    ],
    [
      "HS256 signed with a public key as the HMAC secret",
      () => {
        const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
        const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
        const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
        const payload = Buffer.from(
          JSON.stringify({
            ...claims(),
            sub: adminId,
            iss: "switchboard",
            aud: "switchboard",
            exp: 9999999999,
          }),
        ).toString("base64url");
        const signature = createHmac("sha256", pem).update(`${header}.${payload}`).digest("base64url");
        return `${header}.${payload}.${signature}`;
      },
    ],
    ["garbage", () => "not-a-jwt"],
  ];
  it.each(attacks)("refuses %s with 401", async (_, forge) => {
    const result = await me(bearer(forge()));
    expect(result.status).toBe(401);
    expect(result.body.code).toBe("UNAUTHORIZED");
  });

  it("refuses the unexpired token of a deleted user, and frees its email", async () => {
    const user = await createUser(platform.url, platform.token, "user", "leaver@switchboard.test");
    expect((await me(bearer(user.token))).status).toBe(200);
    expect((await platform.api("DELETE", `/v1/users/${user.id}`)).status).toBe(204);
    expect((await me(bearer(user.token))).status).toBe(401);
    expect((await platform.api("GET", `/v1/users/${user.id}`)).status).toBe(404);
    // The email lookup went with the user: the address can be used again, by a different account.
    const again = await createUser(platform.url, platform.token, "viewer", "leaver@switchboard.test");
    expect(again.id).not.toBe(user.id);
    expect((await me(bearer(user.token))).status).toBe(401);
  });
});

describe("users", () => {
  it("refuses a short password with 400 and a message that states the minimum", async () => {
    const result = await platform.api("POST", "/v1/users", {
      email: "short@switchboard.test",
      password: "short",
      role: "user",
    });
    expect(result.status).toBe(400);
    expect(result.body.message).toMatch(/at least 12 characters/);
  });

  it("answers 409 for an email that is taken", async () => {
    const result = await platform.api("POST", "/v1/users", {
      email: "admin@switchboard.test",
      password: PASSWORD,
      role: "user",
    });
    expect(result.status).toBe(409);
  });

  it("lists and reads users without password hashes", async () => {
    const user = await createUser(platform.url, platform.token, "viewer");
    const list = await platform.api("GET", "/v1/users");
    expect(list.status).toBe(200);
    expect(list.body.items.map((u: { id: string }) => u.id)).toContain(user.id);
    const one = await platform.api("GET", `/v1/users/${user.id}`);
    expect(one.body).toMatchObject({ id: user.id, role: "viewer", disabled: false });
    expect(JSON.stringify([list.body, one.body])).not.toContain("scrypt");
  });

  it("a password change ends the user's sessions; the new password signs in", async () => {
    const user = await createUser(platform.url, platform.token, "user");
    const refreshToken = (
      await request<any>(platform.url, "POST", "/v1/auth/login", { email: user.email, password: PASSWORD })
    ).body.refreshToken;
    // Sessions are revoked by the second: let the tokens above belong to an earlier one.
    await sleep(1100);
    const changed = await platform.api("PATCH", `/v1/users/${user.id}`, { password: "a-brand-new-password" });
    expect(changed.status).toBe(200);
    expect((await me(bearer(user.token))).status).toBe(401);
    expect((await request(platform.url, "POST", "/v1/auth/refresh", { refreshToken })).status).toBe(401);
    expect((await me(bearer(await login(platform.url, user.email, "a-brand-new-password")))).status).toBe(
      200,
    );
  });

  it("a demoted user acts with the new role at once; a disabled user cannot sign in", async () => {
    const user = await createUser(platform.url, platform.token, "admin");
    expect((await send(platform.url, bearer(user.token), "GET", "/v1/users")).status).toBe(200);
    await expectOk(platform.api("PATCH", `/v1/users/${user.id}`, { role: "viewer" }), 200);
    expect((await send(platform.url, bearer(user.token), "GET", "/v1/users")).status).toBe(403);
    await expectOk(platform.api("PATCH", `/v1/users/${user.id}`, { disabled: true }), 200);
    expect((await me(bearer(user.token))).status).toBe(401);
    expect(
      (await request(platform.url, "POST", "/v1/auth/login", { email: user.email, password: PASSWORD }))
        .status,
    ).toBe(401);
  });
});

describe("API keys", () => {
  it("creates a key shown once, authenticates with it, and lists it without the secret", async () => {
    const created = await createKey(platform.url, bearer(platform.token), "user", { name: "ci" });
    expect(created).toMatchObject({
      id: expect.any(String),
      role: "user",
      name: "ci",
      createdAt: expect.any(String),
    });
    expect(created.key).toMatch(new RegExp(`^sb_${created.id}_[A-Za-z0-9_-]{43}$`));
    const secretPart = created.key.slice(`sb_${created.id}_`.length);

    const who = await me(apiKey(created.key));
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      principalType: "apiKey",
      principalId: created.id,
      role: "user",
      tenantId: "default",
    });

    const list = await platform.api("GET", "/v1/api-keys");
    const listed = list.body.items.find((k: { id: string }) => k.id === created.id);
    expect(listed).toMatchObject({
      id: created.id,
      prefix: created.prefix,
      role: "user",
      lastUsedAt: expect.any(String),
    });
    expect(listed).not.toHaveProperty("key");
    expect(listed).not.toHaveProperty("secretHash");
    expect(JSON.stringify(list.body)).not.toContain(secretPart);
  });

  it("a revoked key stops working at once (the twin does not cache authorizer results)", async () => {
    const created = await createKey(platform.url, bearer(platform.token), "viewer");
    expect((await me(apiKey(created.key))).status).toBe(200);
    const revoked = await platform.api("DELETE", `/v1/api-keys/${created.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    expect((await me(apiKey(created.key))).status).toBe(401);
  });

  it("an expired key is refused", async () => {
    const created = await createKey(platform.url, bearer(platform.token), "viewer", {
      expiresAt: new Date(Date.now() + 1500).toISOString(),
    });
    expect((await me(apiKey(created.key))).status).toBe(200);
    await sleep(1700);
    expect((await me(apiKey(created.key))).status).toBe(401);
  });

  it("a tampered secret is refused", async () => {
    const created = await createKey(platform.url, bearer(platform.token), "viewer");
    const last = created.key.at(-1) === "A" ? "B" : "A";
    expect((await me(apiKey(`${created.key.slice(0, -1)}${last}`))).status).toBe(401);
  });

  it("nobody mints a key above their own role (403); a viewer mints none", async () => {
    const user = await createUser(platform.url, platform.token, "user");
    const viewer = await createUser(platform.url, platform.token, "viewer");
    expect(
      (await send(platform.url, bearer(user.token), "POST", "/v1/api-keys", { name: "x", role: "admin" }))
        .status,
    ).toBe(403);
    expect(
      (await send(platform.url, bearer(viewer.token), "POST", "/v1/api-keys", { name: "x", role: "viewer" }))
        .status,
    ).toBe(403);
    const userKey = await createKey(platform.url, bearer(user.token), "user");
    expect(
      (await send(platform.url, apiKey(userKey.key), "POST", "/v1/api-keys", { name: "x", role: "admin" }))
        .status,
    ).toBe(403);
  });

  it("a user sees and revokes only its own keys; an admin sees and revokes all", async () => {
    const alice = await createUser(platform.url, platform.token, "user");
    const bob = await createUser(platform.url, platform.token, "user");
    const aliceKey = await createKey(platform.url, bearer(alice.token), "viewer");
    const bobKey = await createKey(platform.url, bearer(bob.token), "user");

    const aliceList = await send(platform.url, bearer(alice.token), "GET", "/v1/api-keys");
    expect(aliceList.body.items.map((k: { id: string }) => k.id)).toEqual([aliceKey.id]);
    expect(
      (await send(platform.url, bearer(alice.token), "DELETE", `/v1/api-keys/${bobKey.id}`)).status,
    ).toBe(404);
    expect((await me(apiKey(bobKey.key))).status).toBe(200);

    const adminList = await platform.api("GET", "/v1/api-keys?limit=100");
    expect(adminList.body.items.map((k: { id: string }) => k.id)).toEqual(
      expect.arrayContaining([aliceKey.id, bobKey.id]),
    );
    expect((await platform.api("DELETE", `/v1/api-keys/${bobKey.id}`)).status).toBe(200);
    expect((await me(apiKey(bobKey.key))).status).toBe(401);
  });

  it("deleting a user revokes the keys it minted", async () => {
    const leaver = await createUser(platform.url, platform.token, "user");
    const key = await createKey(platform.url, bearer(leaver.token), "user");
    expect((await me(apiKey(key.key))).status).toBe(200);
    expect((await platform.api("DELETE", `/v1/users/${leaver.id}`)).status).toBe(204);
    expect((await me(apiKey(key.key))).status).toBe(401);
  });

  it("throttles a key past its usage plan's burst with 429, Retry-After and the contract's body", async () => {
    const key = await createKey(platform.url, bearer(platform.token), "viewer");
    const burst = viewerPlan.burstLimit;
    // Three bursts at once: even a slow machine cannot spread them over the refill time.
    const results = await Promise.all(
      Array.from({ length: burst * 3 }, () =>
        request<any>(platform.url, "GET", "/v1/me", undefined, apiKey(key.key)),
      ),
    );
    const throttled = results.filter((r) => r.status === 429);
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(burst);
    expect(throttled.length).toBeGreaterThan(0);
    expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    expect(Number(throttled[0]?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(throttled[0]?.body).toEqual({
      code: "TOO_MANY_REQUESTS",
      message: expect.any(String),
      requestId: expect.any(String),
    });
    // The bucket refills: after the advertised wait the key works again.
    await sleep(Number(throttled[0]?.headers.get("retry-after")) * 1000);
    expect((await me(apiKey(key.key))).status).toBe(200);
  });
});

describe("WebSocket authorizer", () => {
  it("refuses a garbage token and a revoked key at connect, and accepts a live key", async () => {
    await expect(SocketClient.open(platform.wsUrl, "garbage")).rejects.toThrow(/403/);
    const key = await createKey(platform.url, bearer(platform.token), "viewer");
    const socket = await SocketClient.open(platform.wsUrl, key.key);
    socket.send({ action: "ping" });
    await socket.waitFor((m) => m.type === "pong");
    await socket.close();
    await platform.api("DELETE", `/v1/api-keys/${key.id}`);
    await expect(SocketClient.open(platform.wsUrl, key.key)).rejects.toThrow(/403/);
  });
});

describe("login brute force", () => {
  it("answers 429 with Retry-After after 10 failures for one email, even for the right password", async () => {
    const user = await createUser(platform.url, platform.token, "viewer");
    const attempt = (password: string) =>
      request<any>(platform.url, "POST", "/v1/auth/login", { email: user.email, password });
    for (let i = 0; i < 10; i++) {
      expect((await attempt(`wrong-password-${i}`)).status).toBe(401);
    }
    const blocked = await attempt("wrong-password-10");
    expect(blocked.status).toBe(429);
    expect(blocked.body).toMatchObject({ code: "TOO_MANY_REQUESTS", requestId: expect.any(String) });
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await attempt(PASSWORD)).status).toBe(429);
    // Another account from the same address is not locked out by this one.
    expect(
      (
        await request(platform.url, "POST", "/v1/auth/login", {
          email: "admin@switchboard.test",
          password: "correct-horse-battery-staple",
        })
      ).status,
    ).toBe(200);
  });
});

describe("audit log", () => {
  it("records a mutation with actor, action, resource, request id and source IP", async () => {
    const created = await platform.api("POST", "/v1/users", {
      email: "audited@switchboard.test",
      password: PASSWORD,
      role: "viewer",
    });
    expect(created.status).toBe(201);
    const requestId = created.headers.get("x-amzn-requestid");
    const log = await platform.api(
      "GET",
      `/v1/audit?actorId=${adminId}&resource=/v1/users/${created.body.id}`,
    );
    expect(log.status).toBe(200);
    expect(log.body.items).toEqual([
      expect.objectContaining({
        actorId: adminId,
        actorType: "user",
        action: "createUser",
        resource: `/v1/users/${created.body.id}`,
        requestId,
        sourceIp: "127.0.0.1",
        status: 201,
        tenantId: "default",
        at: expect.any(String),
      }),
    ]);
    expect(JSON.stringify(log.body)).not.toContain(PASSWORD);
  });

  it("names the API key that acted", async () => {
    const key = await createKey(platform.url, bearer(platform.token), "admin");
    const made = await send(platform.url, apiKey(key.key), "POST", "/v1/api-keys", {
      name: "child",
      role: "viewer",
    });
    expect(made.status).toBe(201);
    const log = await platform.api("GET", `/v1/audit?actorId=${key.id}`);
    expect(log.body.items).toEqual([
      expect.objectContaining({
        actorType: "apiKey",
        actorId: key.id,
        action: "createApiKey",
        resource: `/v1/api-keys/${made.body.id}`,
      }),
    ]);
    expect(JSON.stringify(log.body)).not.toContain(made.body.key);
  });

  it("filters by time and pages with a cursor, newest first", async () => {
    const before = new Date().toISOString();
    await sleep(20);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await createKey(platform.url, bearer(platform.token), "viewer")).id);
    await sleep(20);
    const after = new Date().toISOString();

    const window = await platform.api("GET", `/v1/audit?resource=/v1/api-keys/&from=${before}&to=${after}`);
    const newestFirst = [...ids].reverse().map((id) => `/v1/api-keys/${id}`);
    expect(window.body.items.map((e: { resource: string }) => e.resource)).toEqual(newestFirst);
    const earlier = await platform.api("GET", `/v1/audit?resource=/v1/api-keys/&to=${before}`);
    // Keys of earlier tests are there; none of the three made after `before` is.
    expect(earlier.body.items.length).toBeGreaterThan(0);
    const earlierResources = earlier.body.items.map((e: { resource: string }) => e.resource);
    expect(earlierResources.filter((r: string) => newestFirst.includes(r))).toEqual([]);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await platform.api(
        "GET",
        `/v1/audit?limit=1&from=${before}&to=${after}${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.items.map((e: { id: string }) => e.id));
      cursor = page.body.cursor;
    } while (cursor !== undefined);
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
    expect((await platform.api("GET", "/v1/audit?cursor=not-a-cursor")).status).toBe(400);
  });

  it("is for admins only", async () => {
    const user = await createUser(platform.url, platform.token, "user");
    expect((await send(platform.url, bearer(user.token), "GET", "/v1/audit")).status).toBe(403);
  });

  it("records the tenant creation in the platform admin's tenant", async () => {
    const tenant = await platform.api("POST", "/v1/tenants", {
      name: "Gamma",
      adminEmail: "root@gamma.test",
      adminPassword: PASSWORD,
    });
    expect(tenant.status).toBe(201);
    const log = await platform.api("GET", `/v1/audit?resource=/v1/tenants/${tenant.body.id}`);
    expect(log.body.items).toEqual([expect.objectContaining({ action: "createTenant", actorId: adminId })]);
    // The new tenant's admin starts with an empty log of its own.
    const theirs = await send(
      platform.url,
      bearer(await login(platform.url, "root@gamma.test", PASSWORD)),
      "GET",
      "/v1/audit",
    );
    expect(theirs.body.items).toEqual([]);
  });
});
