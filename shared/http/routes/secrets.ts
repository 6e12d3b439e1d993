import type { CreateSecretRequest } from "#events/agents";
import { deleteSecret, listSecrets, putSecret } from "../../stores/secrets.ts";
import { implementRoutes } from "../api.ts";

/** Write-only credentials: a value goes in once and never comes back out through the API. */
export const secretRoutes = implementRoutes({
  createSecret: {
    handle: ({ body, principal }) =>
      putSecret(principal.tenantId, body.name, body.value, principal.principalId),
    audit: (request) => ({ resource: `/v1/secrets/${(request.body as CreateSecretRequest).name}` }),
  },
  listSecrets: {
    handle: async ({ principal }) => ({ items: await listSecrets(principal.tenantId) }),
  },
  deleteSecret: {
    handle: async ({ params, principal }) => {
      await deleteSecret(principal.tenantId, params.name ?? "");
      return { status: 204 };
    },
  },
});
