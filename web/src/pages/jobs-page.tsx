import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { type BulkJobsResponse, type Job, JobStatus, TERMINAL_JOB_STATUSES } from "#events/jobs";
import { useServices } from "../api/services.tsx";
import { Empty, ErrorState, InlineError, Loading } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { RunDialog } from "../components/run-dialog.tsx";
import { StatusBadge } from "../components/status-badge.tsx";
import { useDebounced } from "../hooks/use-debounced.ts";
import { useLiveJobs } from "../hooks/use-live-jobs.ts";
import { useMe } from "../hooks/use-session.ts";
import { durationBetween, formatDateTime, shortId } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";
import "../job.css";

const PAGE_SIZES = [25, 50, 100];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

const baseColumns: Column<Job>[] = [
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
  {
    header: "Created",
    cell: (job) => (
      <time dateTime={job.createdAt} className="nowrap">
        {formatDateTime(job.createdAt)}
      </time>
    ),
  },
  {
    header: "Duration",
    cell: (job) => (job.startedAt ? durationBetween(job.startedAt, job.endedAt) : "—"),
    className: "numeric",
  },
];

const cancellable = (job: Job) => !TERMINAL_JOB_STATUSES.includes(job.status);
const retryable = (job: Job) => job.status === "failed" || job.status === "timed_out";

export function JobsPage() {
  const { api } = useServices();
  const me = useMe();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const [running, setRunning] = useState(false);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [outcome, setOutcome] = useState<{ action: string; response: BulkJobsResponse } | undefined>();
  const id = useId();
  const status = JobStatus.safeParse(params.get("status")).data;
  const workflowId = params.get("workflowId") ?? "";
  const [search, setSearch] = useState(params.get("q") ?? "");
  const q = useDebounced(search.trim(), 300);
  const from = DATE.test(params.get("from") ?? "") ? (params.get("from") as string) : "";
  const to = DATE.test(params.get("to") ?? "") ? (params.get("to") as string) : "";
  const limit = Number(params.get("limit")) || 25;
  const jobs = useLiveJobs({ status: status ?? "", workflowId, q, from, to, limit });
  const workflows = useQuery({ queryKey: ["workflows"], queryFn: () => api.listWorkflows() });
  const writer = canWrite(me.data?.role);

  // Two filters changed before the next render (the router renders in a transition) must both stay:
  // each change starts from the last one, not from the params of the render that made the handler.
  const latest = useRef(params);
  const rendered = useRef(params);
  if (rendered.current !== params) {
    rendered.current = params;
    latest.current = params;
  }
  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(latest.current);
    if (value) next.set(key, value);
    else next.delete(key);
    latest.current = next;
    setParams(next, { replace: true });
    setSelected(new Set());
  };
  const rows = jobs.data?.pages.flatMap((page) => page.items) ?? [];
  const chosen = rows.filter((job) => selected.has(job.id));

  const bulk = useMutation({
    mutationFn: (action: "cancel" | "retry") =>
      api.bulkJobs(
        action,
        chosen.filter(action === "cancel" ? cancellable : retryable).map((job) => job.id),
      ),
    onSuccess: (response, action) => {
      setOutcome({ action, response });
      setSelected(new Set());
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
    },
  });

  const columns = useMemo<Column<Job>[]>(() => {
    if (!writer) return baseColumns;
    const all = rows.length > 0 && rows.every((job) => selected.has(job.id));
    return [
      {
        header: "Select",
        headerContent: (
          <input
            type="checkbox"
            aria-label="Select all shown jobs"
            checked={all}
            onChange={() => setSelected(all ? new Set() : new Set(rows.map((job) => job.id)))}
          />
        ),
        cell: (job) => (
          <input
            type="checkbox"
            aria-label={`Select job ${job.id}`}
            checked={selected.has(job.id)}
            onChange={() =>
              setSelected((current) => {
                const next = new Set(current);
                if (next.has(job.id)) next.delete(job.id);
                else next.add(job.id);
                return next;
              })
            }
          />
        ),
      },
      ...baseColumns,
    ];
  }, [writer, rows, selected]);

  const filtered = Boolean(status || workflowId || q || from || to);
  const refused = outcome?.response.results.filter((r) => r.error !== undefined) ?? [];
  const done = (outcome?.response.results.length ?? 0) - refused.length;

  return (
    <>
      <PageHeader title="Jobs">
        {writer && (
          <button type="button" className="button button-primary" onClick={() => setRunning(true)}>
            Run
          </button>
        )}
      </PageHeader>
      <div className="filters">
        <label className="field field-inline">
          <span>Search</span>
          <input
            type="search"
            placeholder="Job id or workflow name"
            value={search}
            onChange={(e) => {
              setSearch(e.target.value);
              setSelected(new Set());
            }}
            onBlur={(e) => setFilter("q", e.currentTarget.value.trim())}
          />
        </label>
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
        <label className="field field-inline">
          <span>From</span>
          <input
            type="date"
            value={from}
            max={to || undefined}
            onChange={(e) => setFilter("from", e.target.value)}
          />
        </label>
        <label className="field field-inline">
          <span>To</span>
          <input
            type="date"
            value={to}
            min={from || undefined}
            onChange={(e) => setFilter("to", e.target.value)}
          />
        </label>
        <label className="field field-inline">
          <span>Per page</span>
          <select
            value={String(limit)}
            onChange={(e) => setFilter("limit", e.target.value === "25" ? "" : e.target.value)}
          >
            {PAGE_SIZES.map((size) => (
              <option key={size} value={String(size)}>
                {size}
              </option>
            ))}
          </select>
        </label>
      </div>
      {writer && (
        <div className="bulk-bar" role="toolbar" aria-label="Bulk actions">
          <span className="muted small">{chosen.length} selected</span>
          <button
            type="button"
            className="button button-danger"
            disabled={bulk.isPending || !chosen.some(cancellable)}
            onClick={() => bulk.mutate("cancel")}
          >
            Cancel selected
          </button>
          <button
            type="button"
            className="button"
            disabled={bulk.isPending || !chosen.some(retryable)}
            onClick={() => bulk.mutate("retry")}
          >
            Retry selected
          </button>
          <InlineError error={bulk.error} />
          {outcome && (
            <span className="small" role="status">
              {outcome.action === "cancel" ? "Cancelled" : "Retried"} {done} job{done === 1 ? "" : "s"}
              {refused.length > 0 &&
                `; ${refused.length} refused (${refused.map((r) => `${shortId(r.id)}: ${r.error?.message}`).join("; ")})`}
            </span>
          )}
        </div>
      )}
      {jobs.isPending ? (
        <Loading label="Loading jobs…" />
      ) : jobs.isError && rows.length === 0 ? (
        <ErrorState error={jobs.error} title="Could not load jobs" onRetry={() => void jobs.refetch()} />
      ) : rows.length === 0 && !jobs.hasNextPage ? (
        <Empty>
          {filtered ? "No jobs match these filters." : "No jobs yet. Run a workflow to start one."}
        </Empty>
      ) : (
        <>
          <DataTable rows={rows} columns={columns} rowKey={(job) => job.id} caption="Jobs" />
          <p className="jobs-count muted small" aria-live="polite">
            Showing {rows.length} job{rows.length === 1 ? "" : "s"}
            {jobs.hasNextPage ? "; more match" : ""}
          </p>
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
