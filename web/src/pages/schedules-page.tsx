import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { Link } from "react-router";
import { useServices } from "../api/services.tsx";
import type { Schedule } from "../api/types.ts";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { DeleteButton } from "../components/delete-button.tsx";
import { JsonEditor, parseJson } from "../components/json-editor.tsx";
import { Modal } from "../components/modal.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime } from "../lib/format.ts";
import { canWrite } from "../lib/nav.ts";

const KEY = ["schedules"];

export function SchedulesPage() {
  const { api } = useServices();
  const me = useMe();
  const writer = canWrite(me.data?.role);
  const schedules = useQuery({ queryKey: KEY, queryFn: api.listSchedules });
  const workflows = useQuery({ queryKey: ["workflows"], queryFn: () => api.listWorkflows() });
  const names = new Map(workflows.data?.items.map((w) => [w.id, w.name]) ?? []);
  const [editing, setEditing] = useState<Schedule | null>(null);

  const columns: Column<Schedule>[] = [
    { header: "Name", cell: (s) => s.name ?? <span className="mono">{s.id}</span> },
    {
      header: "Workflow",
      cell: (s) => (
        <Link to={`/workflows/${encodeURIComponent(s.workflowId)}`}>
          {names.get(s.workflowId) ?? s.workflowId}
        </Link>
      ),
    },
    {
      header: "Expression",
      cell: (s) => (
        <>
          <span className="mono">{s.expression}</span>
          {s.timezone && <span className="muted small"> {s.timezone}</span>}
        </>
      ),
    },
    { header: "Enabled", cell: (s) => (s.enabled ? "yes" : "no") },
    {
      header: "Next fire times",
      cell: (s) =>
        s.nextFireTimes?.length ? (
          <ul className="plain-list">
            {s.nextFireTimes.slice(0, 3).map((t) => (
              <li key={t}>
                <time dateTime={t}>{formatDateTime(t)}</time>
              </li>
            ))}
          </ul>
        ) : (
          <span className="muted">—</span>
        ),
    },
  ];
  if (writer)
    columns.push({
      header: "Actions",
      cell: (s) => (
        <div className="row-actions">
          <button
            type="button"
            className="button button-small"
            onClick={() => setEditing(s)}
            aria-label={`Edit schedule ${s.name ?? s.id}`}
          >
            Edit
          </button>
          <DeleteSchedule schedule={s} />
        </div>
      ),
    });

  return (
    <>
      <PageHeader title="Schedules" meta="Jobs that start on their own." />
      <QueryState query={schedules} label="schedules">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No schedules yet.</Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(s) => s.id} caption="Schedules" />
          )
        }
      </QueryState>
      {writer && <CreateSchedule workflows={workflows.data?.items ?? []} />}
      <Modal
        open={editing !== null}
        onClose={() => setEditing(null)}
        title={`Edit schedule ${editing?.name ?? editing?.id ?? ""}`}
      >
        {editing && (
          <EditSchedule
            key={editing.id}
            schedule={editing}
            workflows={workflows.data?.items ?? []}
            onDone={() => setEditing(null)}
          />
        )}
      </Modal>
    </>
  );
}

function DeleteSchedule({ schedule }: { schedule: Schedule }) {
  const { api } = useServices();
  return (
    <DeleteButton
      label={`Delete schedule ${schedule.name ?? schedule.id}`}
      onDelete={() => api.deleteSchedule(schedule.id)}
      queryKey={KEY}
    />
  );
}

function CreateSchedule({ workflows }: { workflows: { id: string; name: string }[] }) {
  const { api } = useServices();
  const id = useId();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [workflowId, setWorkflowId] = useState("");
  const [expression, setExpression] = useState("rate(1 hour)");
  const [timezone, setTimezone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [enabled, setEnabled] = useState(true);
  const [input, setInput] = useState("{}");
  const [problem, setProblem] = useState<string | null>(null);
  const create = useCreate(KEY, api.createSchedule, () => setOpen(false));

  const submit = () => {
    setProblem(null);
    const parsed = parseJson(input.trim() || "{}");
    if (!parsed.ok) return setProblem(`Input is not valid JSON: ${parsed.message}`);
    const body: Record<string, unknown> = {
      workflowId,
      expression: expression.trim(),
      enabled,
      input: parsed.value,
    };
    if (name.trim()) body.name = name.trim();
    if (timezone.trim()) body.timezone = timezone.trim();
    create.mutate(body);
  };

  return (
    <CreatePanel
      title="New schedule"
      open={open}
      onToggle={setOpen}
      onSubmit={submit}
      pending={create.isPending}
      error={problem ? new Error(problem) : create.error}
    >
      <label className="field">
        <span>Name</span>
        <input value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <div className="field">
        <label htmlFor={`${id}-workflow`}>Workflow</label>
        {workflows.length > 0 ? (
          <select
            id={`${id}-workflow`}
            required
            value={workflowId}
            onChange={(e) => setWorkflowId(e.target.value)}
          >
            <option value="">Choose a workflow</option>
            {workflows.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        ) : (
          <input
            id={`${id}-workflow`}
            required
            value={workflowId}
            onChange={(e) => setWorkflowId(e.target.value)}
            placeholder="Workflow id"
          />
        )}
      </div>
      <label className="field">
        <span>Expression</span>
        <input
          required
          className="mono"
          value={expression}
          onChange={(e) => setExpression(e.target.value)}
          placeholder="cron(0 9 * * ? *), rate(5 minutes) or at(2030-01-01T00:00:00)"
        />
      </label>
      <label className="field">
        <span>Time zone</span>
        <input value={timezone} onChange={(e) => setTimezone(e.target.value)} />
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Enabled
      </label>
      <div className="form-grid-full">
        <JsonEditor label="Input (JSON)" value={input} onChange={setInput} rows={4} />
      </div>
    </CreatePanel>
  );
}

/** Sends only what changed, so a schedule edited elsewhere meanwhile keeps the fields this form did not touch. */
function EditSchedule({
  schedule,
  workflows,
  onDone,
}: {
  schedule: Schedule;
  workflows: { id: string; name: string }[];
  onDone: () => void;
}) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const id = useId();
  const initialInput = `${JSON.stringify(schedule.input ?? {}, null, 2)}\n`;
  const [name, setName] = useState(schedule.name ?? "");
  const [workflowId, setWorkflowId] = useState(schedule.workflowId);
  const [expression, setExpression] = useState(schedule.expression);
  const [timezone, setTimezone] = useState(schedule.timezone);
  const [enabled, setEnabled] = useState(schedule.enabled);
  const [input, setInput] = useState(initialInput);
  const [problem, setProblem] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.updateSchedule(schedule.id, body),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: KEY });
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const body: Record<string, unknown> = {};
    if (name.trim() !== (schedule.name ?? "") && name.trim() !== "") body.name = name.trim();
    if (workflowId !== schedule.workflowId) body.workflowId = workflowId;
    if (expression.trim() !== schedule.expression) body.expression = expression.trim();
    if (timezone.trim() !== schedule.timezone) body.timezone = timezone.trim();
    if (enabled !== schedule.enabled) body.enabled = enabled;
    if (input !== initialInput) {
      const parsed = parseJson(input.trim() || "{}");
      if (!parsed.ok) return setProblem(`Input is not valid JSON: ${parsed.message}`);
      body.input = parsed.value;
    }
    if (Object.keys(body).length === 0) return onDone();
    save.mutate(body);
  };
  const known = workflows.some((w) => w.id === workflowId);
  return (
    <form className="form-grid modal-form" onSubmit={submit}>
      <label className="field">
        <span>Name</span>
        <input value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <div className="field">
        <label htmlFor={`${id}-workflow`}>Workflow</label>
        <select id={`${id}-workflow`} value={workflowId} onChange={(e) => setWorkflowId(e.target.value)}>
          {!known && <option value={workflowId}>{workflowId}</option>}
          {workflows.map((w) => (
            <option key={w.id} value={w.id}>
              {w.name}
            </option>
          ))}
        </select>
      </div>
      <label className="field">
        <span>Expression</span>
        <input required className="mono" value={expression} onChange={(e) => setExpression(e.target.value)} />
      </label>
      <label className="field">
        <span>Time zone</span>
        <input value={timezone} onChange={(e) => setTimezone(e.target.value)} />
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Enabled
      </label>
      <div className="form-grid-full">
        <JsonEditor label="Input (JSON)" value={input} onChange={setInput} rows={4} />
      </div>
      <InlineError error={problem ? new Error(problem) : save.error} />
      <div className="actions form-grid-full">
        <button type="button" className="button" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save"}
        </button>
      </div>
    </form>
  );
}
