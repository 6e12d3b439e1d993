import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Role } from "#events/auth";
import { useServices } from "../api/services.tsx";
import type { ApiKey, CreatedApiKey } from "../api/types.ts";
import { CopyButton } from "../components/copy-button.tsx";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime } from "../lib/format.ts";

const KEY = ["api-keys"];

export function ApiKeysPage() {
  const { api } = useServices();
  const keys = useQuery({ queryKey: KEY, queryFn: api.listApiKeys });
  const [created, setCreated] = useState<CreatedApiKey | null>(null);

  const columns: Column<ApiKey>[] = [
    { header: "Name", cell: (k) => k.name },
    { header: "Prefix", cell: (k) => <span className="mono">{k.prefix}</span> },
    { header: "Role", cell: (k) => k.role },
    { header: "Created", cell: (k) => formatDateTime(k.createdAt) },
    { header: "Last used", cell: (k) => formatDateTime(k.lastUsedAt) },
    { header: "Expires", cell: (k) => (k.expiresAt ? formatDateTime(k.expiresAt) : "never") },
    {
      header: "Actions",
      cell: (k) => (k.revokedAt ? <span className="muted">revoked</span> : <Revoke apiKey={k} />),
    },
  ];

  return (
    <>
      <PageHeader
        title="API keys"
        meta="For the CLI and other programs; each acts with the role it was given."
      />
      {created && <NewKey created={created} onDismiss={() => setCreated(null)} />}
      <QueryState query={keys} label="API keys">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No API keys yet.</Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(k) => k.id} caption="API keys" />
          )
        }
      </QueryState>
      <CreateKey onCreated={setCreated} />
    </>
  );
}

/** The secret is returned once, by the create call, so it is shown here and nowhere else. */
function NewKey({ created, onDismiss }: { created: CreatedApiKey; onDismiss: () => void }) {
  return (
    <div className="callout callout-success" role="status">
      <p>
        <strong>Copy this key now.</strong> It will not be shown again.
      </p>
      <div className="stack-inline">
        <input
          className="mono key-value"
          readOnly
          value={created.key}
          aria-label="New API key"
          onFocus={(e) => e.currentTarget.select()}
        />
        <CopyButton text={created.key} />
        <button type="button" className="button button-ghost" onClick={onDismiss}>
          Done
        </button>
      </div>
    </div>
  );
}

function Revoke({ apiKey }: { apiKey: ApiKey }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: () => api.revokeApiKey(apiKey.id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: KEY }),
  });
  return (
    <>
      <button
        type="button"
        className="button button-small button-danger"
        disabled={revoke.isPending}
        onClick={() => revoke.mutate()}
        aria-label={`Revoke ${apiKey.name}`}
      >
        Revoke
      </button>
      <InlineError error={revoke.error} />
    </>
  );
}

function CreateKey({ onCreated }: { onCreated: (key: CreatedApiKey) => void }) {
  const { api } = useServices();
  const me = useMe();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("user");
  const [expires, setExpires] = useState("");
  const create = useCreate(KEY, api.createApiKey, (key) => {
    onCreated(key);
    setOpen(false);
    setName("");
  });
  // Nobody can mint a key stronger than themselves.
  const roles: Role[] = me.data?.role === "admin" ? ["admin", "user", "viewer"] : ["user", "viewer"];
  return (
    <CreatePanel
      title="New API key"
      open={open}
      onToggle={setOpen}
      pending={create.isPending}
      error={create.error}
      onSubmit={() =>
        create.mutate({
          name: name.trim(),
          role,
          ...(expires ? { expiresAt: new Date(`${expires}T23:59:59`).toISOString() } : {}),
        })
      }
    >
      <label className="field">
        <span>Name</span>
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label className="field">
        <span>Role</span>
        <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {roles.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Expires (optional)</span>
        <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
      </label>
    </CreatePanel>
  );
}
