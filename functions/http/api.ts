import { createApiHandler, defineRoute, type RouteTable } from "#shared/http/api";
import { openApiDocument } from "#shared/http/openapi";
import { agentRoutes } from "#shared/http/routes/agents";
import { apiKeyRoutes } from "#shared/http/routes/api-keys";
import { approvalRoutes } from "#shared/http/routes/approvals";
import { auditRoutes } from "#shared/http/routes/audit";
import { authRoutes } from "#shared/http/routes/auth";
import { calibrationRoutes } from "#shared/http/routes/calibration";
import { collectionRoutes } from "#shared/http/routes/collections";
import { identityRoutes } from "#shared/http/routes/identity";
import { jobRoutes } from "#shared/http/routes/jobs";
import { mcpServerRoutes } from "#shared/http/routes/mcp-servers";
import { memoryRoutes } from "#shared/http/routes/memory";
import { notificationRoutes } from "#shared/http/routes/notifications";
import { scheduleRoutes } from "#shared/http/routes/schedules";
import { secretRoutes } from "#shared/http/routes/secrets";
import { sessionRoutes } from "#shared/http/routes/sessions";
import { statsRoutes } from "#shared/http/routes/stats";
import { systemRoutes } from "#shared/http/routes/system";
import { tenantSettingsRoutes } from "#shared/http/routes/tenant-settings";
import { toolRoutes } from "#shared/http/routes/tools";
import { usageRoutes } from "#shared/http/routes/usage";
import { workflowRoutes } from "#shared/http/routes/workflows";
import { logger, publishMetrics } from "#shared/observability";

export const routes: RouteTable = {
  ...systemRoutes,
  ...authRoutes,
  ...jobRoutes,
  ...identityRoutes,
  ...apiKeyRoutes,
  ...auditRoutes,
  ...agentRoutes,
  ...toolRoutes,
  ...mcpServerRoutes,
  ...secretRoutes,
  ...memoryRoutes,
  ...usageRoutes,
  ...statsRoutes,
  ...workflowRoutes,
  ...approvalRoutes,
  ...scheduleRoutes,
  ...collectionRoutes,
  ...sessionRoutes,
  ...tenantSettingsRoutes,
  ...notificationRoutes,
  ...calibrationRoutes,
};

routes.openapi = defineRoute({
  // The servers entry is where this request came in: the stage's base URL, whatever the host.
  handle: async ({ event }) => {
    const host = event.headers?.Host ?? event.headers?.host;
    const proto = event.headers?.["X-Forwarded-Proto"] ?? event.headers?.["x-forwarded-proto"] ?? "https";
    const fullPath = event.requestContext?.path ?? event.path;
    const base = fullPath.endsWith(event.path) ? fullPath.slice(0, fullPath.length - event.path.length) : "";
    return openApiDocument(routes, host === undefined ? undefined : `${proto}://${host}${base}`);
  },
});

export const handler = createApiHandler(routes)
  .use(publishMetrics())
  .use({
    // A job's routes log under its id, like the worker's lines about the same job.
    before: ({ event }) => {
      const jobId = event.resource?.startsWith("/v1/jobs/{id}") ? event.pathParameters?.id : undefined;
      if (jobId) logger.appendKeys({ jobId });
    },
  });
