import { useEffect, useRef } from "react";
import type { Step } from "#events/jobs";
import type { TimelineEvent } from "#events/timeline";
import type { TokenStreams } from "../hooks/use-job-live.ts";
import { streamKey } from "../hooks/use-job-live.ts";
import { durationBetween, formatDuration, formatTime } from "../lib/format.ts";
import type { GraphNodeModel } from "../lib/graph-model.ts";
import { stepTiming } from "../lib/step-timing.ts";
import { JsonView } from "./json-view.tsx";
import { StatusBadge } from "./status-badge.tsx";

function StepDetails({
  step,
  stream,
  events,
}: {
  step: Step;
  stream: string | undefined;
  events: readonly TimelineEvent[];
}) {
  const timing = stepTiming(step, events);
  return (
    <div className="step-details">
      <dl className="facts">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={step.status} />
        </dd>
        <dt>Attempts</dt>
        <dd>{step.attempt}</dd>
        <dt>Queued</dt>
        <dd>{formatTime(step.queuedAt)}</dd>
        <dt>Started</dt>
        <dd>{formatTime(step.startedAt)}</dd>
        <dt>Ended</dt>
        <dd>{formatTime(step.endedAt)}</dd>
        <dt>Waited</dt>
        <dd>{durationBetween(step.queuedAt, step.startedAt)}</dd>
        <dt>Ran</dt>
        <dd data-testid="step-ran">{timing.ranMs === undefined ? "—" : formatDuration(timing.ranMs)}</dd>
        {timing.pausedMs !== undefined && (
          <>
            <dt>{timing.pausedFor === "person" ? "Awaited decision" : "Slept"}</dt>
            <dd>{formatDuration(timing.pausedMs)}</dd>
          </>
        )}
      </dl>
      {step.error && (
        <div className="step-error" role="note">
          <strong>{step.error.code}</strong>: {step.error.message}
        </div>
      )}
      {stream && (
        <>
          <h4>Agent output</h4>
          <pre className="json token-stream" aria-live="polite">
            {stream}
          </pre>
        </>
      )}
      {step.logs && step.logs.length > 0 && (
        <>
          <h4>Logs</h4>
          <pre className="json step-logs">{step.logs.join("\n")}</pre>
        </>
      )}
      <h4>Input</h4>
      <JsonView value={step.input} label="Input" />
      <h4>Output</h4>
      <JsonView value={step.output} label="Output" />
    </div>
  );
}

/** Everything known about one node: its step, or for a fan-out each item's step. */
export function StepPanel({
  node,
  steps,
  streams,
  events,
  onClose,
}: {
  node: GraphNodeModel;
  steps: readonly Step[];
  streams: TokenStreams;
  events: readonly TimelineEvent[];
  onClose: () => void;
}) {
  const ref = useRef<HTMLElement>(null);
  // On narrow screens the panel sits below the graph; bring it into view when a node is picked.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when another node is picked, on purpose
  useEffect(() => {
    ref.current?.scrollIntoView?.({ block: "nearest", behavior: "smooth" });
  }, [node.id]);
  const own = steps.find((s) => s.itemIndex === undefined);
  const items = steps
    .filter((s) => s.itemIndex !== undefined)
    .sort((a, b) => (a.itemIndex ?? 0) - (b.itemIndex ?? 0));
  return (
    <aside ref={ref} className="panel step-panel" aria-label={`Step ${node.id}`}>
      <div className="panel-header">
        <h2>
          <code>{node.id}</code> <span className="muted small">{node.type}</span>
        </h2>
        <button
          type="button"
          className="button button-ghost"
          onClick={onClose}
          aria-label="Close step details"
        >
          ✕
        </button>
      </div>
      {node.progress && (
        <p className="muted">
          {node.progress.done}/{node.progress.total} items succeeded
        </p>
      )}
      {!own && items.length === 0 && <p className="muted">This step has not started.</p>}
      {own && <StepDetails step={own} stream={streams[streamKey(node.id)]} events={events} />}
      {items.map((step) => (
        <details key={step.itemIndex} className="item-step" open={items.length <= 3}>
          <summary>
            Item {step.itemIndex} <StatusBadge status={step.status} />
          </summary>
          <StepDetails step={step} stream={streams[streamKey(node.id, step.itemIndex)]} events={events} />
        </details>
      ))}
    </aside>
  );
}
