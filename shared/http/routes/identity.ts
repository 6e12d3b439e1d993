import { assertPasswordAllowed, hashPassword } from "../../auth/passwords.ts";
import { provisionUsageBucket, releaseUsageBucket, releaseUsageBuckets } from "../../auth/usage-buckets.ts";
import { conflict, notFound } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { revokeKeysCreatedBy } from "../../stores/api-keys.ts";
import type { ApiKeyItem } from "../../stores/identity.ts";
import {
  createTenantWithAdmin,
  createUser,
  deleteUser,
  getUser,
  listUsers,
  publicUser,
  updateUser,
} from "../../stores/identity.ts";
import { implementRoutes } from "../api.ts";

const releaseBuckets = (keys: ApiKeyItem[]) =>
  releaseUsageBuckets(keys.map((key) => ({ kind: "apiKey", keyId: key.id, role: key.role })));

export const identityRoutes = implementRoutes({
  createTenant: {
    // Recorded in the platform admin's own tenant, under the new tenant's id.
    handle: async ({ body }) => {
      assertPasswordAllowed(body.adminPassword, "adminPassword");
      // The tenant's request bucket exists before the tenant does, so its first call is never refused.
      const tenantId = newId("t");
      await provisionUsageBucket({ kind: "tenant", tenantId });
      try {
        const { tenant, admin } = await createTenantWithAdmin({
          id: tenantId,
          name: body.name,
          adminEmail: body.adminEmail,
          adminPasswordHash: await hashPassword(body.adminPassword),
        });
        return { ...tenant, admin: publicUser(admin) };
      } catch (error) {
        await releaseUsageBucket({ kind: "tenant", tenantId });
        throw error;
      }
    },
  },
  listUsers: {
    handle: async ({ query, principal }) => {
      const result = await listUsers(principal.tenantId, query);
      return { ...result, items: result.items.map(publicUser) };
    },
  },
  createUser: {
    handle: async ({ body, principal }) => {
      assertPasswordAllowed(body.password);
      const user = await createUser({
        tenantId: principal.tenantId,
        email: body.email,
        role: body.role,
        passwordHash: await hashPassword(body.password),
        platformAdmin: false,
      });
      return publicUser(user);
    },
  },
  getUser: {
    handle: async ({ params, principal }) => {
      const user = await getUser(principal.tenantId, params.id ?? "");
      if (user === undefined) throw notFound("User", params.id);
      return publicUser(user);
    },
  },
  updateUser: {
    handle: async ({ params, body, principal }) => {
      const id = params.id ?? "";
      // Keeps at least the acting admin in charge: nobody locks themselves out by accident.
      if (
        id === principal.principalId &&
        ((body.role !== undefined && body.role !== "admin") || body.disabled === true)
      ) {
        throw conflict("You cannot demote or disable yourself");
      }
      if (body.password !== undefined) assertPasswordAllowed(body.password);
      const user = await updateUser(principal.tenantId, id, {
        ...(body.role === undefined ? {} : { role: body.role }),
        ...(body.disabled === undefined ? {} : { disabled: body.disabled }),
        ...(body.password === undefined ? {} : { passwordHash: await hashPassword(body.password) }),
      });
      if (user === undefined) throw notFound("User", id);
      // A disabled user's keys die with its access; a demoted user's keys cannot keep the role it lost.
      if (body.disabled === true) await releaseBuckets(await revokeKeysCreatedBy(principal.tenantId, id));
      else if (body.role !== undefined)
        await releaseBuckets(await revokeKeysCreatedBy(principal.tenantId, id, body.role));
      return publicUser(user);
    },
  },
  deleteUser: {
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      if (id === principal.principalId) throw conflict("You cannot delete yourself");
      const user = await deleteUser(principal.tenantId, id);
      if (user === undefined) throw notFound("User", id);
      await releaseBuckets(await revokeKeysCreatedBy(principal.tenantId, id));
      return { status: 204 };
    },
  },
});
