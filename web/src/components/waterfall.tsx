import { formatDuration } from "../lib/format.ts";
import type { WaterfallRow } from "../lib/step-timing.ts";
import { Empty } from "./data-state.tsx";

const TICKS = [0, 0.25, 0.5, 0.75, 1];

/**
 * Step times as a trace view: one bar per node on the job's time axis. The light part is time in the queue,
 * the solid part the step's own work, and the striped part waiting for a person (or a durable sleep).
 */
export function Waterfall({
  rows,
  start,
  end,
  onSelect,
}: {
  rows: readonly WaterfallRow[];
  start: number | undefined;
  end: number;
  onSelect?: (nodeId: string) => void;
}) {
  const begin = start ?? Math.min(...rows.map((r) => r.queuedAt ?? r.startedAt ?? end));
  const span = Math.max(1, end - begin);
  const pct = (ms: number | undefined) =>
    ms === undefined ? undefined : Math.min(100, Math.max(0, ((ms - begin) / span) * 100));
  const placed = rows.filter((row) => row.startedAt !== undefined || row.queuedAt !== undefined);
  if (placed.length === 0) return <Empty>No step has started yet.</Empty>;
  return (
    <figure className="waterfall" aria-label="Step waterfall">
      <div className="waterfall-row waterfall-axis" aria-hidden="true">
        <span className="waterfall-name muted small">Step</span>
        <span className="waterfall-track">
          {TICKS.map((tick) => (
            <span key={tick} className="waterfall-tick muted small" style={{ left: `${tick * 100}%` }}>
              {formatDuration(span * tick)}
            </span>
          ))}
        </span>
        <span className="waterfall-ran muted small">Ran</span>
      </div>
      <ol className="waterfall-rows">
        {placed.map((row) => {
          const queued = pct(row.queuedAt ?? row.startedAt) ?? 0;
          const started = pct(row.startedAt);
          const workEnd = pct(
            row.pausedAt ?? row.endedAt ?? (row.status === "running" ? end : row.startedAt),
          );
          const ended = pct(row.endedAt ?? end);
          const name = row.items ? `${row.nodeId} ×${row.items.total}` : row.nodeId;
          return (
            <li key={row.nodeId} className="waterfall-row" data-node-id={row.nodeId}>
              <span className="waterfall-name">
                {onSelect ? (
                  <button type="button" className="link-button mono" onClick={() => onSelect(row.nodeId)}>
                    {name}
                  </button>
                ) : (
                  <span className="mono">{name}</span>
                )}
              </span>
              <span className="waterfall-track">
                {started !== undefined && started > queued && (
                  <span
                    className="waterfall-bar waterfall-queued"
                    style={{ left: `${queued}%`, width: `${started - queued}%` }}
                    title="queued"
                  />
                )}
                {started !== undefined && workEnd !== undefined && (
                  <span
                    className={`waterfall-bar waterfall-work status-${row.status}`}
                    style={{ left: `${started}%`, width: `${Math.max(0.5, workEnd - started)}%` }}
                    title={`ran ${formatDuration(row.ranMs ?? 0)}`}
                  />
                )}
                {row.pausedAt !== undefined && workEnd !== undefined && ended !== undefined && (
                  <span
                    className="waterfall-bar waterfall-paused"
                    style={{ left: `${workEnd}%`, width: `${Math.max(0, ended - workEnd)}%` }}
                    title={row.pausedFor === "person" ? "waiting for a person" : "waiting"}
                    data-paused-for={row.pausedFor}
                  />
                )}
              </span>
              <span className="waterfall-ran numeric small">
                {row.ranMs === undefined ? "—" : formatDuration(row.ranMs)}
              </span>
            </li>
          );
        })}
      </ol>
      <p className="waterfall-legend muted small">
        <span className="waterfall-key waterfall-queued" /> queued
        <span className="waterfall-key waterfall-work status-succeeded" /> ran
        <span className="waterfall-key waterfall-paused" /> waiting for a person or a timer
      </p>
    </figure>
  );
}
