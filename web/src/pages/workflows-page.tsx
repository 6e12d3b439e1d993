import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { useServices } from "../api/services.tsx";
import type { WorkflowSummary } from "../api/types.ts";
import { Empty, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { RunDialog } from "../components/run-dialog.tsx";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";

export function WorkflowsPage() {
  const { api } = useServices();
  const me = useMe();
  const writer = canWrite(me.data?.role);
  const workflows = useQuery({ queryKey: ["workflows"], queryFn: () => api.listWorkflows() });
  const [runId, setRunId] = useState<string | undefined>();

  const columns: Column<WorkflowSummary>[] = [
    { header: "Name", cell: (w) => <Link to={`/workflows/${encodeURIComponent(w.id)}`}>{w.name}</Link> },
    { header: "Description", cell: (w) => w.description ?? <span className="muted">—</span> },
    {
      header: "Version",
      cell: (w) => (w.version === undefined ? "—" : `v${w.version}`),
      className: "numeric",
    },
    { header: "Updated", cell: (w) => formatDateTime(w.updatedAt ?? w.createdAt) },
  ];
  if (writer) {
    columns.push({
      header: "Actions",
      cell: (w) => (
        <button
          type="button"
          className="button button-small"
          onClick={() => setRunId(w.id)}
          aria-label={`Run ${w.name}`}
        >
          Run
        </button>
      ),
    });
  }

  return (
    <>
      <PageHeader title="Workflows">
        {writer && (
          <Link to="/workflows/new" className="button button-primary">
            New workflow
          </Link>
        )}
      </PageHeader>
      <QueryState query={workflows} label="workflows">
        {(page) =>
          page.items.length === 0 ? (
            <Empty action={writer ? <Link to="/workflows/new">Create a workflow</Link> : undefined}>
              No workflows yet.
            </Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(w) => w.id} caption="Workflows" />
          )
        }
      </QueryState>
      <RunDialog open={runId !== undefined} onClose={() => setRunId(undefined)} workflowId={runId} />
    </>
  );
}
