import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useServices } from "../api/services.tsx";
import { CopyButton } from "../components/copy-button.tsx";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { formatDateTime } from "../lib/format.ts";

const KEY = ["notification-targets"];
const EVENTS = ["approval.requested", "review.notified", "job.failed"] as const;

interface Target {
  id: string;
  url: string;
  events: string[];
  description?: string;
  createdAt: string;
}

/** Signed webhooks: each target with its deliveries and their status (pending, delivered, failed). */
export function NotificationsPage() {
  const { api } = useServices();
  const targets = useQuery({ queryKey: KEY, queryFn: api.listNotificationTargets });
  const [secret, setSecret] = useState<string | undefined>();
  return (
    <>
      <PageHeader
        title="Notifications"
        meta="Signed webhooks for approval.requested, review.notified and job.failed. Each delivery carries x-switchboard-signature: sha256=<HMAC of the body>."
      />
      {secret !== undefined && (
        <section className="card" aria-label="New signing secret">
          <p className="small">
            This signing secret is shown once. Keep it where your receiver can verify with it.
          </p>
          <p className="mono">{secret}</p>
          <CopyButton text={secret} />
        </section>
      )}
      <QueryState query={targets} label="notification targets">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No notification targets yet.</Empty>
          ) : (
            <div className="stack">
              {page.items.map((target) => (
                <TargetCard key={target.id} target={target} />
              ))}
            </div>
          )
        }
      </QueryState>
      <AddTarget onCreated={setSecret} />
    </>
  );
}

function TargetCard({ target }: { target: Target }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const deliveriesKey = ["notification-deliveries", target.id];
  const deliveries = useQuery({
    queryKey: deliveriesKey,
    queryFn: () => api.listNotificationDeliveries(target.id),
    refetchInterval: 3000,
  });
  const test = useMutation({
    mutationFn: () => api.testNotificationTarget(target.id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: deliveriesKey }),
  });
  const remove = useMutation({
    mutationFn: () => api.deleteNotificationTarget(target.id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: KEY }),
  });
  return (
    <section className="card" aria-label={`Target ${target.url}`}>
      <h2 className="mono small">{target.url}</h2>
      <p className="muted small">
        {target.events.join(", ")} · added {formatDateTime(target.createdAt)}
        {target.description ? ` · ${target.description}` : ""}
      </p>
      <div className="actions">
        <button
          type="button"
          className="button button-small"
          disabled={test.isPending}
          onClick={() => test.mutate()}
        >
          Send a test
        </button>
        <button
          type="button"
          className="button button-small button-danger"
          disabled={remove.isPending}
          onClick={() => remove.mutate()}
        >
          Delete
        </button>
      </div>
      <InlineError error={test.error ?? remove.error} />
      <QueryState query={deliveries} label="deliveries">
        {(page) =>
          page.items.length === 0 ? (
            <p className="muted small">No deliveries yet.</p>
          ) : (
            <DataTable
              caption={`Deliveries to ${target.url}`}
              rows={page.items}
              rowKey={(d) => d.id}
              columns={[
                { header: "Event", cell: (d) => d.type },
                {
                  header: "Status",
                  cell: (d) => <span className={`status status-${d.status}`}>{d.status}</span>,
                },
                { header: "Attempts", cell: (d) => String(d.attempts) },
                {
                  header: "Last answer",
                  cell: (d) =>
                    d.lastError ?? (d.lastStatusCode === undefined ? "" : `HTTP ${d.lastStatusCode}`),
                },
                {
                  header: "Next attempt",
                  cell: (d) => (d.status === "pending" ? formatDateTime(d.nextAttemptAt) : ""),
                },
                { header: "Updated", cell: (d) => formatDateTime(d.updatedAt) },
              ]}
            />
          )
        }
      </QueryState>
    </section>
  );
}

function AddTarget({ onCreated }: { onCreated: (secret: string) => void }) {
  const { api } = useServices();
  const [open, setOpen] = useState(false);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>([...EVENTS]);
  const create = useCreate(KEY, api.createNotificationTarget, (created) => {
    setOpen(false);
    setUrl("");
    onCreated(created.secret);
  });
  return (
    <CreatePanel
      title="Add a webhook"
      submitLabel="Add"
      open={open}
      onToggle={setOpen}
      pending={create.isPending}
      error={create.error}
      onSubmit={() =>
        create.mutate({
          type: "webhook",
          url: url.trim(),
          events: events as (typeof EVENTS)[number][],
        })
      }
    >
      <label className="field">
        <span>Webhook URL</span>
        <input required type="url" value={url} onChange={(e) => setUrl(e.target.value)} />
      </label>
      <fieldset className="field">
        <legend>Events</legend>
        {EVENTS.map((event) => (
          <label key={event} className="stack-inline">
            <input
              type="checkbox"
              checked={events.includes(event)}
              onChange={(e) =>
                setEvents((all) => (e.target.checked ? [...all, event] : all.filter((x) => x !== event)))
              }
            />
            {event}
          </label>
        ))}
      </fieldset>
    </CreatePanel>
  );
}
