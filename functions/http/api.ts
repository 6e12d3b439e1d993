import { createApiHandler, defineRoute, type RouteTable } from "#shared/http/api";
import { openApiDocument } from "#shared/http/openapi";
import { authRoutes } from "#shared/http/routes/auth";
import { jobRoutes } from "#shared/http/routes/jobs";
import { systemRoutes } from "#shared/http/routes/system";

export const routes: RouteTable = {
  ...systemRoutes,
  ...authRoutes,
  ...jobRoutes,
};

routes.openapi = defineRoute({
  summary: "This document",
  handle: async () => openApiDocument(routes),
});

export const handler = createApiHandler(routes);
