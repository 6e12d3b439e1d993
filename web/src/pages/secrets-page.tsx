import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import type { Secret } from "#events/agents";
import { useServices } from "../api/services.tsx";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { DeleteButton } from "../components/delete-button.tsx";
import { Modal } from "../components/modal.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { formatDateTime } from "../lib/format.ts";

const KEY = ["secrets"];

/** Write-only: a value is typed in, sent once, and never read back; the page only ever holds names. */
export function SecretsPage() {
  const { api } = useServices();
  const secrets = useQuery({ queryKey: KEY, queryFn: api.listSecrets });
  const [rotating, setRotating] = useState<Secret | null>(null);
  const columns: Column<Secret>[] = [
    { header: "Name", cell: (s) => <strong className="mono">{s.name}</strong> },
    { header: "Created", cell: (s) => <time dateTime={s.createdAt}>{formatDateTime(s.createdAt)}</time> },
    {
      header: "Last rotated",
      cell: (s) =>
        s.updatedAt === s.createdAt ? (
          <span className="muted">never</span>
        ) : (
          <time dateTime={s.updatedAt}>{formatDateTime(s.updatedAt)}</time>
        ),
    },
    {
      header: "Actions",
      cell: (s) => (
        <div className="row-actions">
          <button
            type="button"
            className="button button-small"
            onClick={() => setRotating(s)}
            aria-label={`Rotate secret ${s.name}`}
          >
            Rotate
          </button>
          <DeleteSecret secret={s} />
        </div>
      ),
    },
  ];
  return (
    <>
      <PageHeader
        title="Secrets"
        meta="Credentials for agents, tools and MCP servers. Values are encrypted and never shown again."
      />
      <QueryState query={secrets} label="secrets">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No secrets yet.</Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(s) => s.name} caption="Secrets" />
          )
        }
      </QueryState>
      <CreateSecret />
      <RotateSecret secret={rotating} onClose={() => setRotating(null)} />
    </>
  );
}

function SecretValue({
  value,
  onChange,
  label,
}: {
  value: string;
  onChange: (v: string) => void;
  label: string;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <input
        type="password"
        required
        autoComplete="new-password"
        spellCheck={false}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}

function CreateSecret() {
  const { api } = useServices();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const create = useCreate(KEY, api.putSecret, () => {
    setOpen(false);
    setName("");
    setValue("");
  });
  return (
    <CreatePanel
      title="New secret"
      open={open}
      onToggle={setOpen}
      pending={create.isPending}
      error={create.error}
      onSubmit={() => create.mutate({ name: name.trim(), value })}
    >
      <label className="field">
        <span>Name</span>
        <input required autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <SecretValue label="Value" value={value} onChange={setValue} />
    </CreatePanel>
  );
}

function RotateSecret({ secret, onClose }: { secret: Secret | null; onClose: () => void }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const [value, setValue] = useState("");
  const rotate = useMutation({
    mutationFn: (name: string) => api.putSecret({ name, value }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: KEY });
      setValue("");
      onClose();
    },
  });
  const close = () => {
    setValue("");
    rotate.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (secret) rotate.mutate(secret.name);
  };
  return (
    <Modal open={secret !== null} onClose={close} title={`Rotate ${secret?.name ?? ""}`}>
      <form className="form-grid modal-form" onSubmit={submit}>
        <p className="muted small form-grid-full">
          The new value replaces the old one for every step that starts from now on.
        </p>
        <SecretValue label="New value" value={value} onChange={setValue} />
        <InlineError error={rotate.error} />
        <div className="actions form-grid-full">
          <button type="button" className="button" onClick={close}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" disabled={rotate.isPending}>
            {rotate.isPending ? "Saving…" : "Rotate"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function DeleteSecret({ secret }: { secret: Secret }) {
  const { api } = useServices();
  return (
    <DeleteButton
      label={`Delete secret ${secret.name}`}
      onDelete={() => api.deleteSecret(secret.name)}
      queryKey={KEY}
    />
  );
}
