import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { MIN_PASSWORD_LENGTH, type Role } from "#events/auth";
import { useServices } from "../api/services.tsx";
import type { User } from "../api/types.ts";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { DeleteButton } from "../components/delete-button.tsx";
import { Modal } from "../components/modal.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { formatDateTime } from "../lib/format.ts";

const KEY = ["users"];

const columns: Column<User>[] = [
  { header: "Email", cell: (u) => u.email },
  { header: "Role", cell: (u) => u.role },
  { header: "Status", cell: (u) => (u.disabled ? <span className="muted">disabled</span> : "active") },
  { header: "Created", cell: (u) => formatDateTime(u.createdAt) },
];

export function UsersPage() {
  const { api } = useServices();
  const users = useQuery({ queryKey: KEY, queryFn: api.listUsers });
  const [editing, setEditing] = useState<User | null>(null);
  const shown: Column<User>[] = [
    ...columns,
    {
      header: "Actions",
      cell: (u) => (
        <div className="row-actions">
          <button
            type="button"
            className="button button-small"
            onClick={() => setEditing(u)}
            aria-label={`Edit user ${u.email}`}
          >
            Edit
          </button>
          <DeleteUser user={u} />
        </div>
      ),
    },
  ];
  return (
    <>
      <PageHeader title="Users" meta="People in this tenant." />
      <QueryState query={users} label="users">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No users.</Empty>
          ) : (
            <DataTable rows={page.items} columns={shown} rowKey={(u) => u.id} caption="Users" />
          )
        }
      </QueryState>
      <CreateUser />
      <Modal open={editing !== null} onClose={() => setEditing(null)} title={`Edit ${editing?.email ?? ""}`}>
        {editing && <EditUser key={editing.id} user={editing} onDone={() => setEditing(null)} />}
      </Modal>
    </>
  );
}

function DeleteUser({ user }: { user: User }) {
  const { api } = useServices();
  return (
    <DeleteButton
      label={`Delete user ${user.email}`}
      onDelete={() => api.deleteUser(user.id)}
      queryKey={KEY}
    />
  );
}

/** Role and the disabled flag; a new password only when one is typed (it ends the user's sessions). */
function EditUser({ user, onDone }: { user: User; onDone: () => void }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const [role, setRole] = useState<Role>(user.role);
  const [disabled, setDisabled] = useState(user.disabled === true);
  const [password, setPassword] = useState("");
  const save = useMutation({
    mutationFn: () =>
      api.updateUser(user.id, {
        ...(role === user.role ? {} : { role }),
        ...(disabled === (user.disabled === true) ? {} : { disabled }),
        ...(password === "" ? {} : { password }),
      }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: KEY });
      onDone();
    },
  });
  const unchanged = role === user.role && disabled === (user.disabled === true) && password === "";
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!unchanged) save.mutate();
  };
  return (
    <form className="form-grid modal-form" onSubmit={submit}>
      <label className="field">
        <span>Role</span>
        <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
          <option>admin</option>
          <option>user</option>
          <option>viewer</option>
        </select>
      </label>
      <label className="field">
        <span>New password (optional)</span>
        <input
          type="password"
          minLength={MIN_PASSWORD_LENGTH}
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} />
        Disabled (signs the user out and stops their API keys)
      </label>
      <InlineError error={save.error} />
      <div className="actions form-grid-full">
        <button type="button" className="button" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={save.isPending || unchanged}>
          {save.isPending ? "Saving…" : "Save"}
        </button>
      </div>
    </form>
  );
}

function CreateUser() {
  const { api } = useServices();
  const [open, setOpen] = useState(false);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("user");
  const create = useCreate(KEY, api.createUser, () => {
    setOpen(false);
    setEmail("");
    setPassword("");
  });
  return (
    <CreatePanel
      title="New user"
      open={open}
      onToggle={setOpen}
      pending={create.isPending}
      error={create.error}
      onSubmit={() => create.mutate({ email: email.trim(), password, role })}
    >
      <label className="field">
        <span>Email</span>
        <input
          type="email"
          required
          autoComplete="off"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      </label>
      <label className="field">
        <span>Password (at least {MIN_PASSWORD_LENGTH} characters)</span>
        <input
          type="password"
          required
          minLength={MIN_PASSWORD_LENGTH}
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </label>
      <label className="field">
        <span>Role</span>
        <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
          <option>admin</option>
          <option>user</option>
          <option>viewer</option>
        </select>
      </label>
    </CreatePanel>
  );
}
