import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useServices } from "../api/services.tsx";
import type { QueueStatus } from "../api/types.ts";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";

const KEY = ["system-status"];

const queueColumns: Column<QueueStatus>[] = [
  { header: "Queue", cell: (q) => <span className="mono">{q.name}</span> },
  { header: "Waiting", cell: (q) => q.visible, className: "numeric" },
  { header: "In flight", cell: (q) => q.inFlight ?? "—", className: "numeric" },
  { header: "Delayed", cell: (q) => q.delayed ?? "—", className: "numeric" },
  { header: "Dead letters", cell: (q) => q.dlq ?? "—", className: "numeric" },
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
                        </span>
                      </li>
                    ),
                  )}
                </ul>
              )}
            </section>
          </div>
        )}
      </QueryState>
    </>
  );
}
