import { type ApiResult, login, type Platform, request } from "../support/platform.ts";

/** Helpers shared by the identity, roles and tenancy suites. */

export const PASSWORD = "a-long-enough-password";

export type Role = "admin" | "user" | "viewer";

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const apiKey = (key: string) => ({ "x-api-key": key });

/**
 * A request with credentials. A 429 from the gateway's usage-plan throttle (not from the application, e.g.
 * the login limiter) is waited out, as a well-behaved client does: suites that are not about throttling
 * must not fail because they are fast.
 */
export async function send<T = any>(
  base: string,
  headers: Record<string, string>,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResult<T>> {
  for (let attempt = 0; ; attempt++) {
    const result = await request<T>(base, method, path, body, headers);
    const throttled =
      result.status === 429 && result.headers.get("x-amzn-errortype") === "TooManyRequestsException";
    if (!throttled || attempt >= 5) return result;
    await new Promise((resolve) =>
      setTimeout(resolve, Number(result.headers.get("retry-after") ?? 1) * 1000),
    );
  }
}

export async function expectOk<T>(result: Promise<ApiResult<T>>, status: number): Promise<T> {
  const settled = await result;
  if (settled.status !== status) {
    throw new Error(`expected ${status}, got ${settled.status}: ${JSON.stringify(settled.body)}`);
  }
  return settled.body;
}

export async function createUser(
  base: string,
  adminToken: string,
  role: Role,
  email = `${role}-${Math.random().toString(36).slice(2, 10)}@switchboard.test`,
) {
  const user = await expectOk(
    send<{ id: string; email: string }>(base, bearer(adminToken), "POST", "/v1/users", {
      email,
      password: PASSWORD,
      role,
    }),
    201,
  );
  return { ...user, token: await login(base, email, PASSWORD) };
}

export async function createKey(
  base: string,
  headers: Record<string, string>,
  role: Role,
  extra: Record<string, unknown> = {},
) {
  return expectOk(
    send<{ id: string; key: string; prefix: string; role: Role }>(base, headers, "POST", "/v1/api-keys", {
      name: `${role} key`,
      role,
      ...extra,
    }),
    201,
  );
}

/** A second tenant, created by the platform admin, with its admin signed in. */
export async function createTenant(platform: Platform, name: string) {
  const adminEmail = `root-${Math.random().toString(36).slice(2, 10)}@${name.toLowerCase()}.test`;
  const tenant = await expectOk(
    platform.api<{ id: string; admin: { id: string } }>("POST", "/v1/tenants", {
      name,
      adminEmail,
      adminPassword: PASSWORD,
    }),
    201,
  );
  return {
    id: tenant.id,
    adminId: tenant.admin.id,
    adminEmail,
    token: await login(platform.url, adminEmail, PASSWORD),
  };
}

/** Fills a manifest path's parameters: `/v1/jobs/{id}` with `{ id: "j_1" }`. */
export function fillPath(path: string, params: Record<string, string>): string {
  return path.replace(/\{(\w+)\+?\}/g, (_, name: string) =>
    encodeURIComponent(params[name] ?? `missing${name}`),
  );
}

/** A small code-only workflow: runs without any provider. */
export const inlineWorkflow = {
  name: "identity-probe",
  nodes: [{ id: "a", type: "code", code: "return 1" }],
};
