import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useServices } from "../api/services.tsx";
import type { AuditEntry } from "../api/types.ts";
import { Empty, ErrorState, InlineError, Loading } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { formatDateTime } from "../lib/format.ts";

const compactTime = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** A path that may break after each `/`, so it wraps at its segments rather than mid-id. */
function ResourcePath({ path }: { path: string }) {
  const parts = path.split("/");
  return (
    <span className="mono wrap-anywhere">
      {parts.map((part, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a segment's place is its identity
        <span key={i}>
          {i > 0 && "/"}
          {part}
          {i < parts.length - 1 && <wbr />}
        </span>
      ))}
    </span>
  );
}

export function AuditPage() {
  const { api } = useServices();
  const audit = useInfiniteQuery({
    queryKey: ["audit"],
    queryFn: ({ pageParam }) => api.listAudit(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.cursor,
  });
  const rows = audit.data?.pages.flatMap((p) => p.items) ?? [];
  // Entries name the actor by id; the user list turns ids into emails where it can.
  const users = useQuery({ queryKey: ["users"], queryFn: api.listUsers });
  const emails = new Map(users.data?.items.map((u) => [u.id, u.email]) ?? []);
  const columns: Column<AuditEntry>[] = [
    {
      header: "When",
      cell: (e) => (
        <time dateTime={e.at} title={formatDateTime(e.at)}>
          {compactTime.format(new Date(e.at))}
        </time>
      ),
    },
    {
      header: "Who",
      cell: (e) => (
        <>
          <span className={emails.has(e.actorId) ? "wrap-anywhere" : "mono wrap-anywhere"}>
            {emails.get(e.actorId) ?? e.actorId}
          </span>
          {e.actorType === "apiKey" && <span className="muted small"> (API key)</span>}
        </>
      ),
    },
    {
      header: "Action",
      // The request id rides under the action, cut short (whole on hover): a column of its own once took
      // the room Status needed and squeezed Resource to a sliver.
      cell: (e) => (
        <>
          <span className="mono">{e.action}</span>
          <br />
          <span className="mono muted small truncate" title={`Request ${e.requestId}`}>
            {e.requestId}
          </span>
        </>
      ),
    },
    { header: "Resource", cell: (e) => <ResourcePath path={e.resource} />, className: "audit-resource" },
    { header: "Status", cell: (e) => e.status, className: "numeric" },
  ];
  return (
    <>
      <PageHeader title="Audit" meta="Every change: who, what, when, and with which key." />
      {audit.isPending ? (
        <Loading label="Loading audit log…" />
      ) : audit.isError && rows.length === 0 ? (
        <ErrorState
          error={audit.error}
          title="Could not load the audit log"
          onRetry={() => void audit.refetch()}
        />
      ) : rows.length === 0 ? (
        <Empty>No audit entries yet.</Empty>
      ) : (
        <>
          <DataTable rows={rows} columns={columns} rowKey={(e) => e.id} caption="Audit log" />
          {audit.hasNextPage && (
            <button
              type="button"
              className="button load-more"
              disabled={audit.isFetchingNextPage}
              onClick={() => void audit.fetchNextPage()}
            >
              {audit.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          )}
          {audit.isFetchNextPageError && <InlineError error={audit.error} />}
        </>
      )}
    </>
  );
}
