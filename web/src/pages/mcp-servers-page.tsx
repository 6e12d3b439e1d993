import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useServices } from "../api/services.tsx";
import type { McpServer } from "../api/types.ts";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";

const KEY = ["mcp-servers"];

export function McpServersPage() {
  const { api } = useServices();
  const me = useMe();
  const writer = canWrite(me.data?.role);
  const servers = useQuery({ queryKey: KEY, queryFn: api.listMcpServers });
  return (
    <>
      <PageHeader
        title="MCP servers"
        meta='Model Context Protocol servers (Streamable HTTP). Agents name their tools as "mcp:<server>/<tool>" or "mcp:<server>/*".'
      />
      <QueryState query={servers} label="MCP servers">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No MCP servers yet.</Empty>
          ) : (
            <div className="stack">
              {page.items.map((server) => (
                <ServerCard key={server.id} server={server} writer={writer} />
              ))}
            </div>
          )
        }
      </QueryState>
      {writer && <RegisterServer />}
    </>
  );
}

function ServerCard({ server, writer }: { server: McpServer; writer: boolean }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const done = () => void queryClient.invalidateQueries({ queryKey: KEY });
  const refresh = useMutation({ mutationFn: () => api.refreshMcpServer(server.id), onSuccess: done });
  const remove = useMutation({ mutationFn: () => api.deleteMcpServer(server.id), onSuccess: done });
  return (
    <section className="card" aria-labelledby={`mcp-${server.id}`}>
      <h2 id={`mcp-${server.id}`}>{server.name}</h2>
      <p className="mono small">{server.url}</p>
      <p className="muted small">
        {server.tools.length} tools · listed {formatDateTime(server.toolsRefreshedAt)}
        {server.secret ? ` · bearer token from secret ${server.secret}` : ""}
      </p>
      <details>
        <summary>Tools of {server.name}</summary>
        <ul className="plain-list" aria-label={`Tools of ${server.name}`}>
          {server.tools.map((tool) => (
            <li key={tool.name}>
              <span className="mono">
                mcp:{server.name}/{tool.name}
              </span>{" "}
              <span className="muted small">{tool.description}</span>
            </li>
          ))}
        </ul>
      </details>
      {writer && (
        <div className="actions">
          <button
            type="button"
            className="button button-small"
            disabled={refresh.isPending}
            onClick={() => refresh.mutate()}
            aria-label={`Refresh ${server.name}`}
          >
            {refresh.isPending ? "Refreshing…" : "Refresh"}
          </button>
          <button
            type="button"
            className="button button-small button-danger"
            disabled={remove.isPending}
            onClick={() => remove.mutate()}
            aria-label={`Delete ${server.name}`}
          >
            Delete
          </button>
        </div>
      )}
      {refresh.isSuccess && (
        <p className="ok small" role="status">
          Listed {refresh.data.tools.length} tools.
        </p>
      )}
      <InlineError error={refresh.error ?? remove.error} />
    </section>
  );
}

function RegisterServer() {
  const { api } = useServices();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ name: "", url: "", secret: "" });
  const create = useCreate(KEY, api.createMcpServer, () => {
    setOpen(false);
    setForm({ name: "", url: "", secret: "" });
  });
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [key]: e.target.value }));
  return (
    <CreatePanel
      title="Register an MCP server"
      submitLabel="Register"
      open={open}
      onToggle={setOpen}
      pending={create.isPending}
      error={create.error}
      onSubmit={() =>
        create.mutate({
          name: form.name.trim(),
          url: form.url.trim(),
          ...(form.secret.trim() ? { secret: form.secret.trim() } : {}),
        })
      }
    >
      <label className="field">
        <span>Name</span>
        <input required value={form.name} onChange={set("name")} placeholder="github" />
      </label>
      <label className="field">
        <span>URL</span>
        <input
          required
          type="url"
          value={form.url}
          onChange={set("url")}
          placeholder="https://mcp.example.com/mcp"
        />
      </label>
      <label className="field">
        <span>Secret name (bearer token)</span>
        <input value={form.secret} onChange={set("secret")} />
      </label>
    </CreatePanel>
  );
}
