import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import type { Session, SessionMessage } from "#events/collections";
import { useServices } from "../api/services.tsx";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";

const KEY = ["sessions"];

const columns: Column<Session>[] = [
  {
    header: "Session",
    cell: (s) => (
      <Link className="mono" to={`/sessions/${encodeURIComponent(s.id)}`}>
        {s.id}
      </Link>
    ),
  },
  { header: "Agent", cell: (s) => s.agent },
  { header: "Turns", cell: (s) => s.turns },
  { header: "Last change", cell: (s) => formatDateTime(s.updatedAt) },
];

export function SessionsPage() {
  const { api } = useServices();
  const me = useMe();
  const sessions = useQuery({ queryKey: KEY, queryFn: api.listSessions });
  return (
    <>
      <PageHeader title="Sessions" meta="Conversations that agent steps continue across jobs." />
      <QueryState query={sessions} label="sessions">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No sessions yet.</Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(s) => s.id} caption="Sessions" />
          )
        }
      </QueryState>
      {canWrite(me.data?.role) && <CreateSession />}
    </>
  );
}

/** A new, empty conversation with an agent; agent nodes continue it with `"session": "<id>"`. */
function CreateSession() {
  const { api } = useServices();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);
  const [agent, setAgent] = useState("");
  const agents = useQuery({ queryKey: ["agents"], queryFn: api.listAgents, enabled: open });
  const create = useCreate(KEY, api.createSession, (session) =>
    navigate(`/sessions/${encodeURIComponent(session.id)}`),
  );
  return (
    <CreatePanel
      title="New session"
      open={open}
      onToggle={setOpen}
      pending={create.isPending}
      error={create.error}
      onSubmit={() => create.mutate(agent)}
    >
      <label className="field">
        <span>Agent</span>
        <select required value={agent} onChange={(e) => setAgent(e.target.value)}>
          <option value="">Choose an agent</option>
          {agents.data?.items.map((a) => (
            <option key={a.id} value={a.name}>
              {a.name}
            </option>
          ))}
        </select>
      </label>
    </CreatePanel>
  );
}

function speaker(message: SessionMessage): string {
  if (message.role === "tool") return `Tool ${message.name ?? ""}`.trim();
  return message.role === "user" ? "User" : "Assistant";
}

/** One message as a person reads it: who spoke, what they said, and the tools the assistant asked for. */
function Message({ message }: { message: SessionMessage }) {
  return (
    <li className={`transcript-message transcript-${message.role}`}>
      <div className="small muted">
        <strong>{speaker(message)}</strong> · {formatDateTime(message.at)} ·{" "}
        <Link to={`/jobs/${encodeURIComponent(message.jobId)}`}>job</Link>
      </div>
      {message.content !== "" && (
        <p className={message.role === "tool" ? "mono small" : undefined}>{message.content}</p>
      )}
      {(message.toolCalls ?? []).map((call) => (
        <div key={call.id} className="mono small">
          → {call.name}({JSON.stringify(call.arguments)})
        </div>
      ))}
    </li>
  );
}

/** A transcript never reorders, so a message's place in it (within its step) names it. */
function withKeys(messages: SessionMessage[]): { key: string; message: SessionMessage }[] {
  const seen = new Map<string, number>();
  return messages.map((message) => {
    const step = `${message.jobId}:${message.nodeId}`;
    const n = seen.get(step) ?? 0;
    seen.set(step, n + 1);
    return { key: `${step}:${n}`, message };
  });
}

export function SessionPage() {
  const { id = "" } = useParams();
  const { api } = useServices();
  const me = useMe();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const session = useQuery({ queryKey: [...KEY, id], queryFn: () => api.getSession(id) });
  const remove = useMutation({
    mutationFn: () => api.deleteSession(id),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: KEY });
      void navigate("/sessions");
    },
  });
  return (
    <>
      <PageHeader title={`Session ${id}`} meta={session.data ? `with ${session.data.agent}` : undefined} />
      <QueryState query={session} label="session">
        {(data) => (
          <>
            {data.messages.length === 0 ? (
              <Empty>No messages yet.</Empty>
            ) : (
              <ol className="transcript" aria-label="Transcript">
                {withKeys(data.messages).map(({ key, message }) => (
                  <Message key={key} message={message} />
                ))}
              </ol>
            )}
            {canWrite(me.data?.role) && (
              <>
                <button
                  type="button"
                  className="button button-small button-danger"
                  disabled={remove.isPending}
                  onClick={() => remove.mutate()}
                >
                  Delete session
                </button>
                <InlineError error={remove.error} />
              </>
            )}
          </>
        )}
      </QueryState>
    </>
  );
}
