import { createBrowserRouter, Navigate, useLocation, useRouteError } from "react-router";
import { AppLayout } from "./components/app-layout.tsx";
import { ErrorState } from "./components/data-state.tsx";
import { useTokens } from "./hooks/use-session.ts";
import { AgentsPage } from "./pages/agents-page.tsx";
import { ApiKeysPage } from "./pages/api-keys-page.tsx";
import { ApiReferencePage } from "./pages/api-reference-page.tsx";
import { ApprovalsPage } from "./pages/approvals-page.tsx";
import { AuditPage } from "./pages/audit-page.tsx";
import { CalibrationPage } from "./pages/calibration-page.tsx";
import { CollectionsPage } from "./pages/collections-page.tsx";
import { JobPage } from "./pages/job-page.tsx";
import { JobsPage } from "./pages/jobs-page.tsx";
import { LimitsPage } from "./pages/limits-page.tsx";
import { McpServersPage } from "./pages/mcp-servers-page.tsx";
import { MemoryPage } from "./pages/memory-page.tsx";
import { NotFoundPage } from "./pages/not-found-page.tsx";
import { NotificationsPage } from "./pages/notifications-page.tsx";
import { OverviewPage } from "./pages/overview-page.tsx";
import { SchedulesPage } from "./pages/schedules-page.tsx";
import { SecretsPage } from "./pages/secrets-page.tsx";
import { SessionPage, SessionsPage } from "./pages/sessions-page.tsx";
import { SignInPage } from "./pages/sign-in-page.tsx";
import { SystemPage } from "./pages/system-page.tsx";
import { ToolsPage } from "./pages/tools-page.tsx";
import { UsagePage } from "./pages/usage-page.tsx";
import { UsersPage } from "./pages/users-page.tsx";
import { WorkflowEditorPage } from "./pages/workflow-editor-page.tsx";
import { WorkflowsPage } from "./pages/workflows-page.tsx";

function RequireAuth() {
  const tokens = useTokens();
  const location = useLocation();
  if (!tokens)
    return <Navigate to="/sign-in" replace state={{ from: location.pathname + location.search }} />;
  return <AppLayout />;
}

/** A render error in one page shows in place of the page, not as a blank screen. */
function RouteError() {
  const error = useRouteError();
  return (
    <main className="main">
      <ErrorState error={error} title="This page failed to render" onRetry={() => window.location.reload()} />
    </main>
  );
}

export function createAppRouter() {
  return createBrowserRouter([
    { path: "/sign-in", element: <SignInPage />, errorElement: <RouteError /> },
    {
      path: "/",
      element: <RequireAuth />,
      errorElement: <RouteError />,
      children: [
        {
          errorElement: <RouteError />,
          children: [
            { index: true, element: <Navigate to="/overview" replace /> },
            { path: "overview", element: <OverviewPage /> },
            { path: "usage", element: <UsagePage /> },
            { path: "secrets", element: <SecretsPage /> },
            { path: "memory", element: <MemoryPage /> },
            { path: "jobs", element: <JobsPage /> },
            { path: "jobs/:id", element: <JobPage /> },
            { path: "workflows", element: <WorkflowsPage /> },
            { path: "workflows/new", element: <WorkflowEditorPage /> },
            { path: "workflows/:id", element: <WorkflowEditorPage /> },
            { path: "approvals", element: <ApprovalsPage /> },
            { path: "agents", element: <AgentsPage /> },
            { path: "tools", element: <ToolsPage /> },
            { path: "mcp-servers", element: <McpServersPage /> },
            { path: "collections", element: <CollectionsPage /> },
            { path: "sessions", element: <SessionsPage /> },
            { path: "sessions/:id", element: <SessionPage /> },
            { path: "schedules", element: <SchedulesPage /> },
            { path: "api-keys", element: <ApiKeysPage /> },
            { path: "users", element: <UsersPage /> },
            { path: "system", element: <SystemPage /> },
            { path: "audit", element: <AuditPage /> },
            { path: "calibration", element: <CalibrationPage /> },
            { path: "limits", element: <LimitsPage /> },
            { path: "notifications", element: <NotificationsPage /> },
            { path: "api", element: <ApiReferencePage /> },
            { path: "*", element: <NotFoundPage /> },
          ],
        },
      ],
    },
  ]);
}
