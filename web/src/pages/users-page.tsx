import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { MIN_PASSWORD_LENGTH, type Role } from "#events/auth";
import { useServices } from "../api/services.tsx";
import type { User } from "../api/types.ts";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
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
  return (
    <>
      <PageHeader title="Users" meta="People in this tenant." />
      <QueryState query={users} label="users">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No users.</Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(u) => u.id} caption="Users" />
          )
        }
      </QueryState>
      <CreateUser />
    </>
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
