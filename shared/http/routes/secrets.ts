import { z } from "zod";
import { CreateSecretRequest, Secret } from "#events/agents";
import { deleteSecret, listSecrets, putSecret } from "../../stores/secrets.ts";
import { defineRoute, type RouteTable } from "../api.ts";

/** Write-only credentials: a value goes in once and never comes back out through the API. */
export const secretRoutes: RouteTable = {
  createSecret: defineRoute({
    summary: "Store a credential (KMS envelope-encrypted); posting an existing name replaces its value",
    body: CreateSecretRequest,
    response: Secret,
    status: 201,
    handle: ({ body, principal }) =>
      putSecret(principal.tenantId, body.name, body.value, principal.principalId),
    audit: (request) => ({ resource: `/v1/secrets/${(request.body as CreateSecretRequest).name}` }),
  }),
  listSecrets: defineRoute({
    summary: "Stored credentials, by name; never their values",
    response: z.object({ items: z.array(Secret) }),
    handle: async ({ principal }) => ({ items: await listSecrets(principal.tenantId) }),
  }),
  deleteSecret: defineRoute({
    summary: "Delete a stored credential",
    handle: async ({ params, principal }) => {
      await deleteSecret(principal.tenantId, params.name ?? "");
      return { status: 204 };
    },
  }),
};
