import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import type { Collection, CollectionMatch } from "#events/collections";
import { useServices } from "../api/services.tsx";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { JsonEditor, parseJson } from "../components/json-editor.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";

const KEY = ["collections"];

export function CollectionsPage() {
  const { api } = useServices();
  const me = useMe();
  const writer = canWrite(me.data?.role);
  const collections = useQuery({ queryKey: KEY, queryFn: api.listCollections });
  const [selected, setSelected] = useState<string | null>(null);
  const columns: Column<Collection>[] = [
    { header: "Name", cell: (c) => <span className="mono">{c.name}</span> },
    { header: "Embedding", cell: (c) => `${c.embedding.provider} · ${c.embedding.model} (${c.dimension})` },
    { header: "Documents", cell: (c) => c.documents },
    { header: "Created", cell: (c) => formatDateTime(c.createdAt) },
    {
      header: "",
      cell: (c) => (
        <div className="row-actions">
          <button
            type="button"
            className="button button-small"
            onClick={() => setSelected(c.name)}
            aria-label={`Query collection ${c.name}`}
          >
            Query
          </button>
          {writer && <DeleteCollection name={c.name} onDeleted={() => setSelected(null)} />}
        </div>
      ),
    },
  ];
  return (
    <>
      <PageHeader title="Collections" meta="Vector memory that agents search with vector_search." />
      <QueryState query={collections} label="collections">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No collections yet.</Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(c) => c.id} caption="Collections" />
          )
        }
      </QueryState>
      {selected !== null && <QueryBox key={selected} name={selected} writer={writer} />}
      {writer && <CreateCollection />}
    </>
  );
}

function DeleteCollection({ name, onDeleted }: { name: string; onDeleted: () => void }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => api.deleteCollection(name),
    onSuccess: () => {
      onDeleted();
      void queryClient.invalidateQueries({ queryKey: KEY });
    },
  });
  return (
    <>
      <button
        type="button"
        className="button button-small button-danger"
        disabled={remove.isPending}
        onClick={() => remove.mutate()}
        aria-label={`Delete collection ${name}`}
      >
        Delete
      </button>
      <InlineError error={remove.error} />
    </>
  );
}

const DOCUMENTS_TEMPLATE = `[
  { "id": "refunds", "text": "Refunds are paid back within five business days.", "metadata": { "kind": "faq" } }
]
`;

/** Ask a collection a question and see the matching chunks, best first; writers may add documents here too. */
function QueryBox({ name, writer }: { name: string; writer: boolean }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const id = useId();
  const [text, setText] = useState("");
  const [topK, setTopK] = useState(5);
  const [documents, setDocuments] = useState(DOCUMENTS_TEMPLATE);
  const query = useMutation({ mutationFn: () => api.queryCollection(name, { text, topK }) });
  const parsed = parseJson(documents);
  const upsert = useMutation({
    mutationFn: () => api.upsertDocuments(name, parsed.ok ? parsed.value : []),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: KEY }),
  });
  const removeDocument = useMutation({
    mutationFn: (documentId: string) => api.deleteDocument(name, documentId),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: KEY });
      query.mutate();
    },
  });
  const matches: CollectionMatch[] = query.data?.matches ?? [];
  return (
    <section className="panel" aria-label={`Query ${name}`}>
      <h2>
        Query <span className="mono">{name}</span>
      </h2>
      <form
        className="form-grid"
        onSubmit={(event) => {
          event.preventDefault();
          if (text.trim() !== "") query.mutate();
        }}
      >
        <label htmlFor={`${id}-text`}>Question</label>
        <input
          id={`${id}-text`}
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="What do you want to find?"
        />
        <label htmlFor={`${id}-topk`}>Matches</label>
        <input
          id={`${id}-topk`}
          type="number"
          min={1}
          max={100}
          value={topK}
          onChange={(e) => setTopK(Number(e.target.value))}
        />
        <div className="form-grid-full">
          <button type="submit" className="button" disabled={query.isPending}>
            Search
          </button>
        </div>
      </form>
      <InlineError error={query.error} />
      <InlineError error={removeDocument.error} />
      {query.isSuccess &&
        (matches.length === 0 ? (
          <Empty>No matches.</Empty>
        ) : (
          <ol className="matches" aria-label="Matches">
            {matches.map((match) => (
              <li key={`${match.id}#${match.chunk}`}>
                <div>
                  <span className="mono">{match.id}</span> · chunk {match.chunk} · score{" "}
                  <span className="mono">{match.score.toFixed(3)}</span>
                </div>
                <p>{match.text}</p>
                {Object.keys(match.metadata).length > 0 && (
                  <div className="mono small">{JSON.stringify(match.metadata)}</div>
                )}
                {writer && (
                  <button
                    type="button"
                    className="button button-small button-danger"
                    disabled={removeDocument.isPending}
                    onClick={() => removeDocument.mutate(match.id)}
                    aria-label={`Delete document ${match.id}`}
                  >
                    Delete document
                  </button>
                )}
              </li>
            ))}
          </ol>
        ))}
      {writer && (
        <div className="form-grid-full">
          <JsonEditor label="Documents (JSON)" value={documents} onChange={setDocuments} rows={5} />
          <button
            type="button"
            className="button button-small"
            disabled={upsert.isPending || !parsed.ok}
            onClick={() => upsert.mutate()}
          >
            Add documents
          </button>
          {upsert.isSuccess && <span className="muted"> Stored.</span>}
          <InlineError error={upsert.error} />
        </div>
      )}
    </section>
  );
}

function CreateCollection() {
  const { api } = useServices();
  const id = useId();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [provider, setProvider] = useState<"local" | "openai" | "bedrock">("local");
  const [model, setModel] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [secret, setSecret] = useState("");
  const create = useCreate(KEY, api.createCollection, () => setOpen(false));
  return (
    <CreatePanel
      title="New collection"
      open={open}
      onToggle={setOpen}
      pending={create.isPending}
      error={create.error}
      onSubmit={() =>
        create.mutate({
          name,
          embedding: {
            provider,
            ...(model === "" || provider === "local" ? {} : { model }),
            ...(baseUrl === "" || provider === "local" ? {} : { baseUrl }),
            ...(secret === "" || provider === "local" ? {} : { secret }),
          },
        })
      }
    >
      <label htmlFor={`${id}-name`}>Name</label>
      <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} required />
      <label htmlFor={`${id}-provider`}>Embedding</label>
      <select
        id={`${id}-provider`}
        value={provider}
        onChange={(e) => setProvider(e.target.value as typeof provider)}
      >
        <option value="local">local (built in, lexical)</option>
        <option value="openai">OpenAI-compatible</option>
        <option value="bedrock">Bedrock Titan v2</option>
      </select>
      {provider !== "local" && (
        <>
          <label htmlFor={`${id}-model`}>Model</label>
          <input
            id={`${id}-model`}
            value={model}
            onChange={(e) => setModel(e.target.value)}
            placeholder="default"
          />
          <label htmlFor={`${id}-url`}>Base URL</label>
          <input
            id={`${id}-url`}
            value={baseUrl}
            onChange={(e) => setBaseUrl(e.target.value)}
            placeholder="optional"
          />
          <label htmlFor={`${id}-secret`}>Secret</label>
          <input
            id={`${id}-secret`}
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            placeholder="name in /v1/secrets"
          />
        </>
      )}
    </CreatePanel>
  );
}
