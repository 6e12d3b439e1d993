import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { useSearchParams } from "react-router";
import { memoryName } from "#events/agents";
import { useServices } from "../api/services.tsx";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, ErrorState, InlineError, Loading, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { JsonEditor, parseJson } from "../components/json-editor.tsx";
import { JsonView } from "../components/json-view.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";

interface KeyRow {
  key: string;
  updatedAt: string;
}

/** Memory has no list of namespaces: the page opens one by name, kept in the URL so it can be linked. */
export function MemoryPage() {
  const [params, setParams] = useSearchParams();
  const namespace = params.get("namespace") ?? "";
  const [draft, setDraft] = useState(namespace);
  const [problem, setProblem] = useState<string | null>(null);
  const id = useId();
  const open = (event: FormEvent) => {
    event.preventDefault();
    const checked = memoryName.safeParse(draft.trim());
    if (!checked.success) return setProblem(checked.error.issues[0]?.message ?? "Not a valid namespace");
    setProblem(null);
    setParams({ namespace: checked.data });
  };
  return (
    <>
      <PageHeader
        title="Memory"
        meta="Values agents and steps keep under namespace/key, with an optional expiry."
      />
      <form className="filters" onSubmit={open}>
        <label className="field-inline" htmlFor={`${id}-ns`}>
          <span>Namespace</span>
          <input
            id={`${id}-ns`}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="e.g. customers"
            aria-describedby={problem ? `${id}-problem` : undefined}
          />
        </label>
        <button type="submit" className="button">
          Open
        </button>
        {problem && (
          <p className="inline-error" id={`${id}-problem`} role="alert">
            {problem}
          </p>
        )}
      </form>
      {namespace === "" ? (
        <Empty>Open a namespace to see its keys.</Empty>
      ) : (
        <Namespace key={namespace} namespace={namespace} />
      )}
    </>
  );
}

function Namespace({ namespace }: { namespace: string }) {
  const { api } = useServices();
  const me = useMe();
  const writer = canWrite(me.data?.role);
  const [selected, setSelected] = useState<string | null>(null);
  const listKey = ["memory", namespace, "keys"];
  const keys = useInfiniteQuery({
    queryKey: listKey,
    queryFn: ({ pageParam }) => api.listMemoryKeys(namespace, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.cursor,
  });
  const rows = keys.data?.pages.flatMap((p) => p.items) ?? [];
  const columns: Column<KeyRow>[] = [
    {
      header: "Key",
      cell: (k) => (
        <button
          type="button"
          className="link-button mono"
          onClick={() => setSelected(k.key)}
          aria-label={`Show ${k.key}`}
        >
          {k.key}
        </button>
      ),
    },
    { header: "Updated", cell: (k) => <time dateTime={k.updatedAt}>{formatDateTime(k.updatedAt)}</time> },
  ];
  if (writer)
    columns.push({
      header: "Actions",
      cell: (k) => (
        <DeleteEntry
          namespace={namespace}
          entryKey={k.key}
          onDeleted={() => setSelected((s) => (s === k.key ? null : s))}
        />
      ),
    });
  return (
    <>
      <h2>
        Namespace <span className="mono">{namespace}</span>
      </h2>
      {keys.isPending ? (
        <Loading label="Loading keys…" />
      ) : keys.isError && rows.length === 0 ? (
        <ErrorState error={keys.error} title="Could not load the keys" onRetry={() => void keys.refetch()} />
      ) : rows.length === 0 ? (
        <Empty>No entries in this namespace.</Empty>
      ) : (
        <>
          <DataTable rows={rows} columns={columns} rowKey={(k) => k.key} caption={`Keys in ${namespace}`} />
          {keys.hasNextPage && (
            <button
              type="button"
              className="button load-more"
              disabled={keys.isFetchingNextPage}
              onClick={() => void keys.fetchNextPage()}
            >
              {keys.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          )}
        </>
      )}
      {selected !== null && (
        <Entry namespace={namespace} entryKey={selected} onClose={() => setSelected(null)} />
      )}
      {writer && <PutEntry namespace={namespace} onSaved={setSelected} />}
    </>
  );
}

function Entry({
  namespace,
  entryKey,
  onClose,
}: {
  namespace: string;
  entryKey: string;
  onClose: () => void;
}) {
  const { api } = useServices();
  const entry = useQuery({
    queryKey: ["memory", namespace, "entry", entryKey],
    queryFn: () => api.getMemory(namespace, entryKey),
  });
  return (
    <section className="card memory-entry" aria-label={`Entry ${entryKey}`}>
      <div className="panel-header">
        <h2 className="mono">{entryKey}</h2>
        <button type="button" className="button button-ghost" onClick={onClose} aria-label="Close entry">
          ✕
        </button>
      </div>
      <QueryState query={entry} label="the entry">
        {(e) => (
          <>
            <dl className="facts">
              <dt>Updated</dt>
              <dd>{formatDateTime(e.updatedAt)}</dd>
              <dt>Expires</dt>
              <dd>{e.expiresAt ? formatDateTime(e.expiresAt) : "never"}</dd>
            </dl>
            <JsonView value={e.value} label="Value" />
          </>
        )}
      </QueryState>
    </section>
  );
}

function PutEntry({ namespace, onSaved }: { namespace: string; onSaved: (key: string) => void }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [key, setKey] = useState("");
  const [value, setValue] = useState('{\n  "note": "remember this"\n}\n');
  const [ttl, setTtl] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const put = useMutation({
    mutationFn: (body: { key: string; value: unknown; ttlSeconds?: number }) =>
      api.putMemory(namespace, body.key, {
        value: body.value,
        ...(body.ttlSeconds === undefined ? {} : { ttlSeconds: body.ttlSeconds }),
      }),
    onSuccess: (entry) => {
      void queryClient.invalidateQueries({ queryKey: ["memory", namespace, "keys"] });
      void queryClient.invalidateQueries({ queryKey: ["memory", namespace, "entry", entry.key] });
      setOpen(false);
      onSaved(entry.key);
    },
  });
  const submit = () => {
    setProblem(null);
    const parsed = parseJson(value);
    if (!parsed.ok) return setProblem(`Value is not valid JSON: ${parsed.message}`);
    put.mutate({
      key: key.trim(),
      value: parsed.value,
      ...(ttl.trim() === "" ? {} : { ttlSeconds: Number(ttl) }),
    });
  };
  return (
    <CreatePanel
      title="Put an entry"
      submitLabel="Save"
      open={open}
      onToggle={setOpen}
      pending={put.isPending}
      error={problem ? new Error(problem) : put.error}
      onSubmit={submit}
    >
      <label className="field">
        <span>Key</span>
        <input required value={key} onChange={(e) => setKey(e.target.value)} />
      </label>
      <label className="field">
        <span>Expires after (seconds, optional)</span>
        <input type="number" min={1} value={ttl} onChange={(e) => setTtl(e.target.value)} />
      </label>
      <div className="form-grid-full">
        <JsonEditor label="Value (JSON)" value={value} onChange={setValue} rows={5} />
      </div>
      <p className="muted small form-grid-full">Putting an existing key replaces its value.</p>
    </CreatePanel>
  );
}

function DeleteEntry({
  namespace,
  entryKey,
  onDeleted,
}: {
  namespace: string;
  entryKey: string;
  onDeleted: () => void;
}) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => api.deleteMemory(namespace, entryKey),
    onSuccess: () => {
      onDeleted();
      // The entry is gone: its cached read goes too, so nothing asks for it again and gets a 404.
      queryClient.removeQueries({ queryKey: ["memory", namespace, "entry", entryKey] });
      void queryClient.invalidateQueries({ queryKey: ["memory", namespace, "keys"] });
    },
  });
  return (
    <>
      <button
        type="button"
        className="button button-small button-danger"
        disabled={remove.isPending}
        onClick={() => remove.mutate()}
        aria-label={`Delete ${entryKey}`}
      >
        Delete
      </button>
      <InlineError error={remove.error} />
    </>
  );
}
