import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { Link } from "react-router";
import { useServices } from "../api/services.tsx";
import type { Schedule } from "../api/types.ts";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { JsonEditor, parseJson } from "../components/json-editor.tsx";
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
  if (writer) columns.push({ header: "Actions", cell: (s) => <DeleteSchedule schedule={s} /> });

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
    </>
  );
}

function DeleteSchedule({ schedule }: { schedule: Schedule }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => api.deleteSchedule(schedule.id),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: KEY }),
  });
  return (
    <>
      <button
        type="button"
        className="button button-small button-danger"
        disabled={remove.isPending}
        onClick={() => remove.mutate()}
        aria-label={`Delete schedule ${schedule.name ?? schedule.id}`}
      >
        Delete
      </button>
      <InlineError error={remove.error} />
    </>
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
