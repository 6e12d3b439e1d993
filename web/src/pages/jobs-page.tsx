import { useQuery } from "@tanstack/react-query";
import { useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { type Job, JobStatus } from "#events/jobs";
import { useServices } from "../api/services.tsx";
import { Empty, ErrorState, InlineError, Loading } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { RunDialog } from "../components/run-dialog.tsx";
import { StatusBadge } from "../components/status-badge.tsx";
import { useLiveJobs } from "../hooks/use-live-jobs.ts";
import { useMe } from "../hooks/use-session.ts";
import { durationBetween, formatTime, shortId } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";

const columns: Column<Job>[] = [
  {
    header: "Job",
    cell: (job) => (
      <Link to={`/jobs/${encodeURIComponent(job.id)}`} className="mono" title={job.id}>
        {shortId(job.id)}
      </Link>
    ),
  },
  { header: "Workflow", cell: (job) => job.workflowName },
  { header: "Status", cell: (job) => <StatusBadge status={job.status} /> },
  { header: "Created", cell: (job) => <time dateTime={job.createdAt}>{formatTime(job.createdAt)}</time> },
  {
    header: "Duration",
    cell: (job) => (job.startedAt ? durationBetween(job.startedAt, job.endedAt) : "—"),
    className: "numeric",
  },
];

export function JobsPage() {
  const { api } = useServices();
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const [running, setRunning] = useState(false);
  const id = useId();
  const status = JobStatus.safeParse(params.get("status")).data;
  const workflowId = params.get("workflowId") ?? "";
  const jobs = useLiveJobs({ status: status ?? "", workflowId });
  const workflows = useQuery({ queryKey: ["workflows"], queryFn: () => api.listWorkflows() });

  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  const rows = jobs.data?.pages.flatMap((page) => page.items) ?? [];

  return (
    <>
      <PageHeader title="Jobs">
        {canWrite(me.data?.role) && (
          <button type="button" className="button button-primary" onClick={() => setRunning(true)}>
            Run
          </button>
        )}
      </PageHeader>
      <div className="filters">
        <label className="field field-inline">
          <span>Status</span>
          <select value={status ?? ""} onChange={(e) => setFilter("status", e.target.value)}>
            <option value="">All statuses</option>
            {JobStatus.options.map((s) => (
              <option key={s} value={s}>
                {s.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <div className="field field-inline">
          <label htmlFor={`${id}-workflow`}>Workflow</label>
          {workflows.isError ? (
            // Without the workflow list, filtering still works by id.
            <input
              id={`${id}-workflow`}
              type="search"
              placeholder="Workflow id"
              defaultValue={workflowId}
              onKeyDown={(e) => {
                if (e.key === "Enter") setFilter("workflowId", e.currentTarget.value.trim());
              }}
              onBlur={(e) => setFilter("workflowId", e.currentTarget.value.trim())}
            />
          ) : (
            <select
              id={`${id}-workflow`}
              value={workflowId}
              onChange={(e) => setFilter("workflowId", e.target.value)}
            >
              <option value="">All workflows</option>
              {workflowId && !workflows.data?.items.some((w) => w.id === workflowId) && (
                <option value={workflowId}>{workflowId}</option>
              )}
              {workflows.data?.items.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                </option>
              ))}
            </select>
          )}
        </div>
      </div>
      {jobs.isPending ? (
        <Loading label="Loading jobs…" />
      ) : jobs.isError && rows.length === 0 ? (
        <ErrorState error={jobs.error} title="Could not load jobs" onRetry={() => void jobs.refetch()} />
      ) : rows.length === 0 ? (
        <Empty>
          {status || workflowId
            ? "No jobs match these filters."
            : "No jobs yet. Run a workflow to start one."}
        </Empty>
      ) : (
        <>
          <DataTable rows={rows} columns={columns} rowKey={(job) => job.id} caption="Jobs" />
          {jobs.hasNextPage && (
            <button
              type="button"
              className="button load-more"
              onClick={() => void jobs.fetchNextPage()}
              disabled={jobs.isFetchingNextPage}
            >
              {jobs.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          )}
          {jobs.isFetchNextPageError && <InlineError error={jobs.error} />}
        </>
      )}
      <RunDialog open={running} onClose={() => setRunning(false)} />
    </>
  );
}
