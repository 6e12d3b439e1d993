import { hashPassword, MIN_PASSWORD_LENGTH } from "./auth/passwords.ts";
import { provisionUsageBucket } from "./auth/usage-buckets.ts";
import { nowIso } from "./db.ts";
import { createUser, findUserByEmail, putTenant } from "./stores/identity.ts";

export const DEFAULT_TENANT_ID = "default";

/**
 * Creates tenant `default`, its request bucket (API Gateway usage key) and its platform admin on first
 * start. Idempotent: an existing admin is left as it is (its password is not reset).
 */
export async function ensurePlatformAdmin(options: {
  email: string;
  password: string;
}): Promise<{ created: boolean }> {
  if (options.password.length < MIN_PASSWORD_LENGTH) {
    throw new Error(`The admin password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  await provisionUsageBucket({ kind: "tenant", tenantId: DEFAULT_TENANT_ID });
  await putTenant({ id: DEFAULT_TENANT_ID, name: "Default", createdAt: nowIso() });
  if ((await findUserByEmail(options.email)) !== undefined) return { created: false };
  await createUser({
    tenantId: DEFAULT_TENANT_ID,
    email: options.email,
    role: "admin",
    passwordHash: await hashPassword(options.password),
    platformAdmin: true,
  });
  return { created: true };
}
