import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId } from "react";
import { Link } from "react-router";
import { useServices } from "../api/services.tsx";
import type { Approval, Page } from "../api/types.ts";
import { Empty, QueryState } from "../components/data-state.tsx";
import { DecisionForm } from "../components/decision-form.tsx";
import { JsonView } from "../components/json-view.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useOnReconnect } from "../hooks/use-connection.ts";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime, formatPercent, shortId } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";

const KEY = ["approvals", "pending"];

export function ApprovalsPage() {
  const { api, socket } = useServices();
  const queryClient = useQueryClient();
  const approvals = useQuery({ queryKey: KEY, queryFn: api.listApprovals });

  useEffect(
    () =>
      socket.subscribeAll((message) => {
        if (message.type === "approval.requested" || message.type === "approval.resolved") {
          void queryClient.invalidateQueries({ queryKey: KEY });
        }
      }),
    [socket, queryClient],
  );
  useOnReconnect(() => void queryClient.invalidateQueries({ queryKey: KEY }));

  return (
    <>
      <PageHeader title="Approvals" meta="Steps waiting for a person's decision." />
      <QueryState query={approvals} label="approvals">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>Nothing is waiting for approval.</Empty>
          ) : (
            <ul className="approval-list">
              {page.items.map((approval) => (
                <ApprovalCard key={approval.id} approval={approval} />
              ))}
            </ul>
          )
        }
      </QueryState>
    </>
  );
}

function ApprovalCard({ approval }: { approval: Approval }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const id = useId();
  // Leave the inbox at once; the refetch confirms it.
  const decided = () => {
    queryClient.setQueryData<Page<Approval>>(KEY, (page) =>
      page ? { ...page, items: page.items.filter((a) => a.id !== approval.id) } : page,
    );
    void queryClient.invalidateQueries({ queryKey: KEY });
  };
  const titleId = `${id}-title`;
  return (
    <li className="card approval" aria-labelledby={titleId}>
      <div className="approval-head">
        <h2 id={titleId} className="approval-message">
          {approval.message}
        </h2>
        {approval.confidence !== undefined && (
          <span className="confidence" title="The agent's confidence in its result">
            <meter
              min={0}
              max={1}
              low={0.5}
              high={0.8}
              optimum={1}
              value={approval.confidence}
              aria-label="Confidence"
            />
            {formatPercent(approval.confidence)} confidence
          </span>
        )}
      </div>
      <p className="muted small">
        Job{" "}
        <Link to={`/jobs/${encodeURIComponent(approval.jobId)}`} className="mono">
          {shortId(approval.jobId)}
        </Link>
        {approval.workflowName && <> · {approval.workflowName}</>} · step <code>{approval.nodeId}</code>
        {approval.itemIndex !== undefined && <> [{approval.itemIndex}]</>} · requested{" "}
        {formatDateTime(approval.createdAt)}
      </p>
      {approval.preview !== undefined && (
        <details open>
          <summary>Preview</summary>
          {typeof approval.preview === "string" ? (
            <pre className="json preview">{approval.preview}</pre>
          ) : (
            <JsonView value={approval.preview} label="Preview" />
          )}
        </details>
      )}
      {canWrite(me.data?.role) && <DecisionForm approvalId={approval.id} onDecided={decided} />}
    </li>
  );
}
