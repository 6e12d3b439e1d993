import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useCallback, useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import type { Approval } from "#events/approvals";
import { TERMINAL_JOB_STATUSES } from "#events/jobs";
import type { TimelineEvent } from "#events/timeline";
import type { JobDetail } from "../api/endpoints.ts";
import { useServices } from "../api/services.tsx";
import { Empty, ErrorState, InlineError, Loading } from "../components/data-state.tsx";
import { DecisionForm } from "../components/decision-form.tsx";
import { JsonView } from "../components/json-view.tsx";
import { WorkflowGraph } from "../components/lazy-workflow-graph.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { RerunDialog } from "../components/rerun-dialog.tsx";
import { StatusBadge } from "../components/status-badge.tsx";
import { StepPanel } from "../components/step-panel.tsx";
import { Timeline } from "../components/timeline.tsx";
import { Waterfall } from "../components/waterfall.tsx";
import { type TokenStreams, useJobLive } from "../hooks/use-job-live.ts";
import { useMe } from "../hooks/use-session.ts";
import { durationBetween, formatDateTime, formatPercent, shortId } from "../lib/format.ts";
import { buildGraph } from "../lib/graph-model.ts";
import { canWrite } from "../lib/nav.ts";
import { waterfallRows } from "../lib/step-timing.ts";
import "../job.css";

export function JobPage() {
  const { id = "" } = useParams();
  return <LiveJob key={id} id={id} />;
}

function LiveJob({ id }: { id: string }) {
  const { job, jobQuery, eventsQuery, timeline, tokens } = useJobLive(id);

  if (jobQuery.isPending) return <Loading label="Loading job…" />;
  if (jobQuery.isError || !job) {
    return (
      <>
        <PageHeader title={`Job ${shortId(id)}`} />
        <ErrorState
          error={jobQuery.error}
          title="Could not load this job"
          onRetry={() => void jobQuery.refetch()}
        />
        <p>
          <Link to="/jobs">Back to jobs</Link>
        </p>
      </>
    );
  }
  return (
    <JobView
      job={job}
      tokens={tokens}
      events={timeline}
      timeline={
        eventsQuery.isError ? (
          <ErrorState
            error={eventsQuery.error}
            title="Could not load the timeline"
            onRetry={() => void eventsQuery.refetch()}
          />
        ) : eventsQuery.isPending ? (
          <Loading label="Loading timeline…" />
        ) : (
          <Timeline events={timeline} />
        )
      }
    />
  );
}

function JobView({
  job,
  tokens,
  events,
  timeline,
}: {
  job: JobDetail;
  tokens: TokenStreams;
  events: readonly TimelineEvent[];
  timeline: ReactNode;
}) {
  const [selected, setSelected] = useState<string | undefined>();
  const onSelect = useCallback(
    (nodeId: string) => setSelected((current) => (current === nodeId ? undefined : nodeId)),
    [],
  );
  const graph = useMemo(() => buildGraph(job.definition?.nodes, job.steps), [job.definition, job.steps]);
  const selectedNode = graph.nodes.find((n) => n.id === selected);
  const streaming = Object.entries(tokens);
  const order = useMemo(
    () => job.definition?.nodes.map((n) => n.id) ?? graph.nodes.map((n) => n.id),
    [job.definition, graph.nodes],
  );
  const now = job.endedAt ? Date.parse(job.endedAt) : Date.now();
  const rows = useMemo(() => waterfallRows(order, job.steps, events, now), [order, job.steps, events, now]);

  return (
    <>
      <PageHeader
        title={
          <>
            Job <span className="mono">{shortId(job.id)}</span> <StatusBadge status={job.status} />
          </>
        }
        meta={
          <>
            <span>{job.workflowName}</span>
            {job.workflowVersion !== undefined && <span> · v{job.workflowVersion}</span>}
            <span> · created {formatDateTime(job.createdAt)}</span>
            {job.startedAt && <span> · {durationBetween(job.startedAt, job.endedAt)}</span>}
            <span className="mono muted small"> · {job.id}</span>
          </>
        }
      >
        <JobActions job={job} />
      </PageHeader>
      <PendingApprovals jobId={job.id} events={events} />
      {job.error && (
        <div className="callout callout-error" role="note">
          <strong>{job.error.code}</strong>: {job.error.message}
        </div>
      )}
      <div className={`job-layout${selectedNode ? " with-panel" : ""}`}>
        {graph.nodes.length === 0 ? (
          <Empty>No steps yet.</Empty>
        ) : (
          <WorkflowGraph model={graph} selectedId={selected} onSelect={onSelect} label="Workflow graph" />
        )}
        {selectedNode && (
          <StepPanel
            node={selectedNode}
            steps={job.steps.filter((s) => s.nodeId === selectedNode.id)}
            streams={tokens}
            events={events}
            onClose={() => setSelected(undefined)}
          />
        )}
      </div>
      {!job.definition && graph.nodes.length > 0 && (
        <p className="muted small">
          The workflow definition is not available; the graph shows the steps that ran, without edges.
        </p>
      )}
      <section className="card" aria-labelledby="waterfall-title">
        <h2 id="waterfall-title">Step times</h2>
        <Waterfall
          rows={rows}
          start={job.startedAt ? Date.parse(job.startedAt) : Date.parse(job.createdAt)}
          end={now}
          onSelect={onSelect}
        />
      </section>
      <div className="job-lower">
        <section className="card" aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline</h2>
          {timeline}
        </section>
        <section className="card" aria-labelledby="io-title">
          <h2 id="io-title">Input and output</h2>
          {streaming.length > 0 && (
            <>
              <h3>Agent output</h3>
              {streaming.map(([key, text]) => (
                <div key={key}>
                  <p className="muted small">
                    <code>{key}</code>
                  </p>
                  <pre className="json token-stream" aria-live="polite">
                    {text}
                  </pre>
                </div>
              ))}
            </>
          )}
          <h3>Input</h3>
          <JsonView value={job.input} label="Job input" />
          <h3>Output</h3>
          <JsonView value={job.output} label="Job output" />
        </section>
      </div>
    </>
  );
}

function JobActions({ job }: { job: JobDetail }) {
  const { api } = useServices();
  const me = useMe();
  const queryClient = useQueryClient();
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["job", job.id], exact: true });
  const cancel = useMutation({ mutationFn: () => api.cancelJob(job.id), onSuccess: refresh });
  const retry = useMutation({ mutationFn: () => api.retryJob(job.id), onSuccess: refresh });
  const [rerunning, setRerunning] = useState(false);
  if (!canWrite(me.data?.role)) return null;
  const terminal = TERMINAL_JOB_STATUSES.includes(job.status);
  const retryable = job.status === "failed" || job.status === "cancelled" || job.status === "timed_out";
  return (
    <div className="stack-inline">
      <button
        type="button"
        className="button button-danger"
        disabled={terminal || cancel.isPending}
        onClick={() => cancel.mutate()}
      >
        {cancel.isPending ? "Cancelling…" : "Cancel"}
      </button>
      <button
        type="button"
        className="button"
        disabled={!retryable || retry.isPending}
        onClick={() => retry.mutate()}
      >
        {retry.isPending ? "Retrying…" : "Retry"}
      </button>
      <button type="button" className="button" disabled={!terminal} onClick={() => setRerunning(true)}>
        Re-run…
      </button>
      <InlineError error={cancel.error ?? retry.error} />
      <RerunDialog open={rerunning} onClose={() => setRerunning(false)} job={job} />
    </div>
  );
}

/** The job's open approvals, decided right here with a comment; the timeline then says who decided. */
function PendingApprovals({ jobId, events }: { jobId: string; events: readonly TimelineEvent[] }) {
  const { api } = useServices();
  const me = useMe();
  const asked = events.filter(
    (e) => e.type === "approval.requested" || e.type === "approval.resolved",
  ).length;
  const approvals = useQuery({
    queryKey: ["job", jobId, "approvals", asked],
    queryFn: () => api.listJobApprovals(jobId),
    enabled: asked > 0,
  });
  const pending = approvals.data?.items.filter((a) => a.status === "pending") ?? [];
  if (pending.length === 0) return null;
  return (
    <>
      {pending.map((approval) => (
        <ApprovalCard key={approval.id} approval={approval} canDecide={canWrite(me.data?.role)} />
      ))}
    </>
  );
}

function ApprovalCard({ approval, canDecide }: { approval: Approval; canDecide: boolean }) {
  const queryClient = useQueryClient();
  const decided = () => {
    void queryClient.invalidateQueries({ queryKey: ["job", approval.jobId] });
    void queryClient.invalidateQueries({ queryKey: ["approvals"] });
  };
  return (
    <section className="approval-card" aria-label={`Approval for ${approval.nodeId}`}>
      <div>
        <strong>
          Waiting for a decision at <code>{approval.nodeId}</code>
        </strong>
        {approval.confidence !== undefined && (
          <span className="muted"> · confidence {formatPercent(approval.confidence)}</span>
        )}
      </div>
      <p>{approval.message}</p>
      {approval.decisions.length > 0 && (
        <p className="muted small">
          {approval.decisions.length} of {approval.quorum} approvals so far
        </p>
      )}
      {canDecide && <DecisionForm approvalId={approval.id} onDecided={decided} />}
    </section>
  );
}
