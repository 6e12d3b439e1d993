import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useServices } from "../api/services.tsx";
import type { BreakerStatus, McpServerStatus, QueueStatus, Reachability } from "../api/types.ts";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { formatDateTime } from "../lib/format.ts";

const KEY = ["system-status"];

const queueColumns: Column<QueueStatus>[] = [
  { header: "Queue", cell: (q) => <span className="mono">{q.name}</span> },
  { header: "Waiting", cell: (q) => q.visible, className: "numeric" },
  { header: "In flight", cell: (q) => q.inFlight ?? "—", className: "numeric" },
  { header: "Delayed", cell: (q) => q.delayed ?? "—", className: "numeric" },
  { header: "Dead letters", cell: (q) => q.dlq ?? "—", className: "numeric" },
];

const BREAKER_LABELS: Record<BreakerStatus["state"], { label: string; tone: string }> = {
  closed: { label: "closed", tone: "succeeded" },
  open: { label: "open", tone: "failed" },
  half_open: { label: "half-open", tone: "running" },
};

function BreakerBadge({ state }: { state: BreakerStatus["state"] }) {
  const { label, tone } = BREAKER_LABELS[state] ?? { label: state, tone: "queued" };
  return <span className={`badge status-${tone}`}>{label}</span>;
}

function ReachableBadge({ reachable }: { reachable: boolean | undefined }) {
  if (reachable === undefined) return <span className="muted">not checked</span>;
  return (
    <span className={`badge status-${reachable ? "succeeded" : "failed"}`}>
      {reachable ? "reachable" : "unreachable"}
    </span>
  );
}

function reachabilityDetail(check: Reachability): string {
  if (!check.reachable) return check.error ?? "no answer";
  const status = check.httpStatus === undefined ? "" : `HTTP ${check.httpStatus}`;
  const latency = check.latencyMs === undefined ? "" : `${check.latencyMs} ms`;
  return [status, latency].filter(Boolean).join(", ");
}

const breakerColumns: Column<BreakerStatus>[] = [
  { header: "Endpoint", cell: (b) => <span className="mono small">{b.target}</span> },
  { header: "Kind", cell: (b) => b.kind },
  { header: "State", cell: (b) => <BreakerBadge state={b.state} /> },
  { header: "Failures", cell: (b) => b.failures, className: "numeric" },
  { header: "Last error", cell: (b) => b.lastError ?? <span className="muted">—</span> },
  {
    header: "Opened",
    cell: (b) => (b.openedAt ? formatDateTime(b.openedAt) : <span className="muted">—</span>),
  },
];

const mcpColumns: Column<McpServerStatus>[] = [
  { header: "Server", cell: (m) => <strong>{m.name}</strong> },
  { header: "URL", cell: (m) => <span className="mono small">{m.url}</span> },
  { header: "Health", cell: (m) => <ReachableBadge reachable={m.reachable} /> },
  { header: "Detail", cell: (m) => <span className="small">{reachabilityDetail(m)}</span> },
];

export function SystemPage() {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const status = useQuery({ queryKey: KEY, queryFn: api.systemStatus, refetchInterval: 10_000 });
  const redrive = useMutation({
    mutationFn: api.redriveDlq,
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: KEY }),
  });
  return (
    <>
      <PageHeader title="System" meta="Refreshes every 10 seconds." />
      <QueryState query={status} label="system status">
        {(s) => (
          <div className="grid-cards">
            <section className="card card-wide" aria-labelledby="queues-title">
              <h2 id="queues-title">Queues</h2>
              {s.queues.length === 0 ? (
                <Empty>No queues reported.</Empty>
              ) : (
                <DataTable
                  rows={s.queues}
                  columns={queueColumns}
                  rowKey={(q) => q.name}
                  caption="Queue depths"
                />
              )}
            </section>
            <section className="card" aria-labelledby="dlq-title">
              <h2 id="dlq-title">Dead-letter queue</h2>
              <p className="big-number">
                {s.dlq.count} <span className="visually-hidden">messages</span>
              </p>
              <p className="muted small">
                Steps whose messages failed every delivery. Redrive moves what is still queued back to the
                steps queue and re-runs the jobs they failed.
              </p>
              <button
                type="button"
                className="button"
                disabled={redrive.isPending || s.dlq.count === 0}
                onClick={() => redrive.mutate()}
              >
                {redrive.isPending ? "Redriving…" : "Redrive"}
              </button>
              {redrive.isSuccess && (
                <p className="ok small" role="status">
                  Redrive started: {redrive.data?.movedFromQueue ?? 0} messages moved back,{" "}
                  {redrive.data?.rerunJobs?.length ?? 0} failed jobs re-run.
                </p>
              )}
              <InlineError error={redrive.error} />
            </section>
            <section className="card" aria-labelledby="providers-title">
              <h2 id="providers-title">Model providers</h2>
              {s.providers.length === 0 ? (
                <Empty>No providers configured.</Empty>
              ) : (
                <ul className="plain-list">
                  {s.providers.map((p) =>
                    typeof p === "string" ? (
                      <li key={p}>{p}</li>
                    ) : (
                      <li key={p.name}>
                        {p.name}{" "}
                        <span className={p.configured ? "ok" : "muted"}>
                          {p.configured ? "configured" : "not configured"}
                        </span>{" "}
                        <ReachableBadge reachable={p.reachable} />
                        {p.endpoints.length > 0 && (
                          <ul className="plain-list small" aria-label={`Endpoints of ${p.name}`}>
                            {p.endpoints.map((e) => (
                              <li key={e.url}>
                                <span className="mono">{e.url}</span>{" "}
                                <span className={e.reachable ? "ok" : "muted"}>
                                  {e.reachable ? "reachable" : "unreachable"}: {reachabilityDetail(e)}
                                </span>
                              </li>
                            ))}
                          </ul>
                        )}
                      </li>
                    ),
                  )}
                </ul>
              )}
            </section>
            <section className="card card-wide" aria-labelledby="breakers-title">
              <h2 id="breakers-title">Circuit breakers</h2>
              {s.breakers.length === 0 ? (
                <Empty>No endpoint has failed yet.</Empty>
              ) : (
                <DataTable
                  rows={s.breakers}
                  columns={breakerColumns}
                  rowKey={(b) => `${b.kind} ${b.target}`}
                  caption="Circuit breakers"
                />
              )}
            </section>
            <section className="card card-wide" aria-labelledby="mcp-title">
              <h2 id="mcp-title">MCP servers</h2>
              {s.mcpServers.length === 0 ? (
                <Empty>No MCP servers registered.</Empty>
              ) : (
                <DataTable
                  rows={s.mcpServers}
                  columns={mcpColumns}
                  rowKey={(m) => m.id}
                  caption="MCP server health"
                />
              )}
            </section>
          </div>
        )}
      </QueryState>
    </>
  );
}
