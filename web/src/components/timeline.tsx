import { useEffect, useRef } from "react";
import type { TimelineEvent } from "#events/timeline";
import { formatPercent, formatTime } from "../lib/format.ts";
import { Empty } from "./data-state.tsx";
import { StatusBadge } from "./status-badge.tsx";

function stepName(nodeId: string, itemIndex?: number): string {
  return itemIndex === undefined ? nodeId : `${nodeId}[${itemIndex}]`;
}

function describe(event: TimelineEvent) {
  switch (event.type) {
    case "job.status_changed":
      return (
        <>
          Job <StatusBadge status={event.status} />
          {event.error && <span className="timeline-error">{event.error.message}</span>}
        </>
      );
    case "step.status_changed":
      return (
        <>
          Step <code>{stepName(event.nodeId, event.itemIndex)}</code> <StatusBadge status={event.status} />
          {event.attempt > 1 && <span className="muted"> attempt {event.attempt}</span>}
          {event.error && <span className="timeline-error">{event.error.message}</span>}
        </>
      );
    case "job.note":
      return (
        <>
          {event.nodeId && <code>{event.nodeId}</code>} {event.message}
          {event.reason && <span className="muted"> ({event.reason})</span>}
        </>
      );
    case "approval.requested":
      return (
        <>
          Approval requested at <code>{event.nodeId}</code>: {event.message}
          {event.confidence !== undefined && (
            <span className="muted"> · confidence {formatPercent(event.confidence)}</span>
          )}
        </>
      );
    case "approval.resolved":
      return (
        <>
          Approval at <code>{event.nodeId}</code> {event.decision === "approve" ? "approved" : "rejected"}
          {event.decisions?.map((d) => (
            <span key={`${d.by}-${d.at}`} className="timeline-comment">
              <span className="muted">{d.decision === "approve" ? "approved" : "rejected"} by </span>
              <strong>{d.email ?? d.by}</strong>
              {d.comment && <q className="timeline-quote">{d.comment}</q>}
            </span>
          ))}
        </>
      );
  }
}

/** The job's events in order. Follows new events while scrolled to the end, and stays put otherwise. */
export function Timeline({ events }: { events: readonly TimelineEvent[] }) {
  const list = useRef<HTMLOListElement>(null);
  const pinned = useRef(true);
  const count = events.length;
  useEffect(() => {
    const element = list.current;
    if (element && pinned.current && count > 0) element.scrollTop = element.scrollHeight;
  }, [count]);

  if (events.length === 0) return <Empty>No events yet.</Empty>;
  return (
    <ol
      ref={list}
      className="timeline"
      aria-label="Timeline"
      onScroll={(e) => {
        const el = e.currentTarget;
        pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
      }}
    >
      {events.map((event) => (
        <li
          key={event.seq}
          className={`timeline-item timeline-${event.type.replace(".", "-")}`}
          data-seq={event.seq}
        >
          <time dateTime={event.at} className="muted small">
            {formatTime(event.at)}
          </time>
          <span className="timeline-seq muted small">#{event.seq}</span>
          <span className="timeline-text">{describe(event)}</span>
        </li>
      ))}
    </ol>
  );
}
