import { provisionUsageBucket, releaseUsageBucket, releaseUsageBuckets } from "../../auth/usage-buckets.ts";
import { forbidden, notFound, validationFailed } from "../../errors.ts";
import { newId } from "../../ids.ts";
import {
  createApiKey,
  getApiKey,
  listApiKeys,
  ownerOf,
  publicApiKey,
  ROLE_RANK,
  revokeApiKey,
} from "../../stores/api-keys.ts";
import { implementRoutes, type Principal } from "../api.ts";

/**
 * Admins see and revoke every key of the tenant; anyone else only the keys they minted, and another
 * caller's key is as absent as another tenant's (404).
 */
const ownKeysOnly = (principal: Principal) =>
  principal.role === "admin" ? {} : { createdBy: principal.principalId };

/** A key minted by a person belongs to that person; one minted by a key, to that key's owner. */
async function ownerFor(principal: Principal): Promise<string> {
  if (principal.principalType === "user") return principal.principalId;
  if (principal.ownerId !== undefined) return principal.ownerId;
  const minting = await getApiKey(principal.tenantId, principal.principalId);
  const owner = minting === undefined ? undefined : await ownerOf(minting);
  if (owner === undefined) throw forbidden("This API key has no owner and cannot mint keys");
  return owner;
}

export const apiKeyRoutes = implementRoutes({
  createApiKey: {
    handle: async ({ body, principal }) => {
      if (ROLE_RANK[body.role] > ROLE_RANK[principal.role]) {
        throw forbidden(`An API key cannot have a higher role than its creator (${principal.role})`);
      }
      if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= Date.now()) {
        throw validationFailed("expiresAt must be in the future", [
          { path: "expiresAt", message: "must be in the future", code: "too_small" },
        ]);
      }
      const ownerId = await ownerFor(principal);
      // The key's own request bucket exists before the key does, so its first call is never refused.
      const subject = { kind: "apiKey", keyId: newId("k"), role: body.role } as const;
      await provisionUsageBucket(subject);
      try {
        const { item, key } = await createApiKey({
          id: subject.keyId,
          tenantId: principal.tenantId,
          name: body.name,
          role: body.role,
          createdBy: principal.principalId,
          ownerId,
          ...(body.expiresAt === undefined ? {} : { expiresAt: new Date(body.expiresAt).toISOString() }),
        });
        return { ...publicApiKey(item), key };
      } catch (error) {
        await releaseUsageBucket(subject);
        throw error;
      }
    },
  },
  listApiKeys: {
    handle: async ({ query, principal }) => {
      const result = await listApiKeys(principal.tenantId, { ...query, ...ownKeysOnly(principal) });
      return { ...result, items: result.items.map(publicApiKey) };
    },
  },
  revokeApiKey: {
    handle: async ({ params, principal }) => {
      const key = await revokeApiKey(principal.tenantId, params.id ?? "", ownKeysOnly(principal));
      if (key === undefined) throw notFound("API key", params.id);
      await releaseUsageBuckets([{ kind: "apiKey", keyId: key.id, role: key.role }]);
      return publicApiKey(key);
    },
  },
});
