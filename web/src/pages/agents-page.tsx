import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ProviderName } from "#events/agents";
import { useServices } from "../api/services.tsx";
import type { Agent } from "../api/types.ts";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { DeleteButton } from "../components/delete-button.tsx";
import { JsonEditor, parseJson } from "../components/json-editor.tsx";
import { Modal } from "../components/modal.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { useMe } from "../hooks/use-session.ts";
import { canWrite } from "../lib/nav.ts";

const KEY = ["agents"];
const SCRIPT_TEMPLATE = `{
  "rules": [{ "match": "summar", "reply": "A short summary.", "confidence": 0.8 }],
  "defaultReply": "OK"
}
`;

const columns: Column<Agent>[] = [
  { header: "Name", cell: (a) => <strong>{a.name}</strong> },
  { header: "Provider", cell: (a) => a.provider },
  { header: "Model", cell: (a) => <span className="mono">{a.model}</span> },
  {
    header: "Tools",
    cell: (a) => (a.tools?.length ? a.tools.join(", ") : <span className="muted">none</span>),
  },
  { header: "Max turns", cell: (a) => a.maxTurns ?? "—", className: "numeric" },
  { header: "Secret", cell: (a) => a.secret ?? <span className="muted">—</span> },
];

export function AgentsPage() {
  const { api } = useServices();
  const me = useMe();
  const writer = canWrite(me.data?.role);
  const agents = useQuery({ queryKey: KEY, queryFn: api.listAgents });
  const [editing, setEditing] = useState<Agent | null>(null);
  const shown: Column<Agent>[] = writer
    ? [
        ...columns,
        {
          header: "Actions",
          cell: (a) => (
            <div className="row-actions">
              <button
                type="button"
                className="button button-small"
                onClick={() => setEditing(a)}
                aria-label={`Edit agent ${a.name}`}
              >
                Edit
              </button>
              <DeleteAgent agent={a} />
            </div>
          ),
        },
      ]
    : columns;
  return (
    <>
      <PageHeader title="Agents" meta="Model, prompt and tools that agent steps call by name." />
      <QueryState query={agents} label="agents">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No agents yet.</Empty>
          ) : (
            <DataTable rows={page.items} columns={shown} rowKey={(a) => a.id} caption="Agents" />
          )
        }
      </QueryState>
      {writer && <CreateAgent />}
      <Modal
        open={editing !== null}
        onClose={() => setEditing(null)}
        title={`Edit agent ${editing?.name ?? ""}`}
      >
        {editing && <EditAgent key={editing.id} agent={editing} onDone={() => setEditing(null)} />}
      </Modal>
    </>
  );
}

function DeleteAgent({ agent }: { agent: Agent }) {
  const { api } = useServices();
  return (
    <DeleteButton
      label={`Delete agent ${agent.name}`}
      onDelete={() => api.deleteAgent(agent.id)}
      queryKey={KEY}
    />
  );
}

type AgentForm = {
  name: string;
  provider: string;
  model: string;
  systemPrompt: string;
  tools: string;
  baseUrl: string;
  secret: string;
  maxTurns: string;
  script: string;
};

const EMPTY_FORM: AgentForm = {
  name: "",
  provider: "scripted",
  model: "",
  systemPrompt: "",
  tools: "",
  baseUrl: "",
  secret: "",
  maxTurns: "",
  script: SCRIPT_TEMPLATE,
};

function formOf(agent: Agent): AgentForm {
  return {
    name: agent.name,
    provider: agent.provider,
    model: agent.model,
    systemPrompt: agent.systemPrompt ?? "",
    tools: (agent.tools ?? []).join(", "),
    baseUrl: agent.baseUrl ?? "",
    secret: agent.secret ?? "",
    maxTurns: String(agent.maxTurns ?? ""),
    script: agent.script === undefined ? SCRIPT_TEMPLATE : `${JSON.stringify(agent.script, null, 2)}\n`,
  };
}

/** The request body of a form, or why it cannot be sent. Fields the form does not show are kept from `base`. */
function bodyOf(
  form: AgentForm,
  base: Partial<Agent> = {},
): { body: Record<string, unknown> } | { problem: string } {
  const body: Record<string, unknown> = {
    ...(base.description === undefined ? {} : { description: base.description }),
    ...(base.temperature === undefined ? {} : { temperature: base.temperature }),
    ...(base.maxTokens === undefined ? {} : { maxTokens: base.maxTokens }),
    name: form.name.trim(),
    provider: form.provider,
    model: form.model.trim(),
  };
  if (form.systemPrompt.trim()) body.systemPrompt = form.systemPrompt;
  const tools = form.tools
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  if (tools.length) body.tools = tools;
  if (form.baseUrl.trim()) body.baseUrl = form.baseUrl.trim();
  if (form.secret.trim()) body.secret = form.secret.trim();
  if (form.maxTurns.trim()) body.maxTurns = Number(form.maxTurns);
  if (form.provider === "scripted" && form.script.trim()) {
    const parsed = parseJson(form.script);
    if (!parsed.ok) return { problem: `Script is not valid JSON: ${parsed.message}` };
    body.script = parsed.value;
  }
  return { body };
}

function EditAgent({ agent, onDone }: { agent: Agent; onDone: () => void }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const [form, setForm] = useState(() => formOf(agent));
  const [problem, setProblem] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.updateAgent(agent.id, body),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: KEY });
      onDone();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const result = bodyOf(form, agent);
    if ("problem" in result) return setProblem(result.problem);
    save.mutate(result.body);
  };
  return (
    <form className="form-grid modal-form" onSubmit={submit}>
      <AgentFields form={form} setForm={setForm} />
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

function CreateAgent() {
  const { api } = useServices();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState<AgentForm>(EMPTY_FORM);
  const [problem, setProblem] = useState<string | null>(null);
  const create = useCreate(KEY, api.createAgent, () => {
    setOpen(false);
    setForm(EMPTY_FORM);
  });
  const submit = () => {
    setProblem(null);
    const result = bodyOf(form);
    if ("problem" in result) return setProblem(result.problem);
    create.mutate(result.body);
  };
  return (
    <CreatePanel
      title="New agent"
      onSubmit={submit}
      pending={create.isPending}
      error={problem ? new Error(problem) : create.error}
      open={open}
      onToggle={setOpen}
    >
      <AgentFields form={form} setForm={setForm} />
    </CreatePanel>
  );
}

function AgentFields({
  form,
  setForm,
}: {
  form: AgentForm;
  setForm: (update: (form: AgentForm) => AgentForm) => void;
}) {
  const set = (key: keyof AgentForm) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [key]: e.target.value }));
  return (
    <>
      <label className="field">
        <span>Name</span>
        <input required value={form.name} onChange={set("name")} />
      </label>
      <label className="field">
        <span>Provider</span>
        <select value={form.provider} onChange={set("provider")}>
          {ProviderName.options.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>Model</span>
        <input
          required
          value={form.model}
          onChange={set("model")}
          placeholder="e.g. anthropic.claude-3-haiku"
        />
      </label>
      <label className="field">
        <span>Max turns</span>
        <input type="number" min={1} max={50} value={form.maxTurns} onChange={set("maxTurns")} />
      </label>
      <label className="field">
        <span>Tools (comma-separated)</span>
        <input value={form.tools} onChange={set("tools")} placeholder="http_request" />
      </label>
      <label className="field">
        <span>Secret name</span>
        <input value={form.secret} onChange={set("secret")} />
      </label>
      {form.provider === "openai" && (
        <label className="field">
          <span>Base URL</span>
          <input
            type="url"
            value={form.baseUrl}
            onChange={set("baseUrl")}
            placeholder="http://localhost:11434/v1"
          />
        </label>
      )}
      <label className="field form-grid-full">
        <span>System prompt</span>
        <textarea rows={3} value={form.systemPrompt} onChange={set("systemPrompt")} />
      </label>
      {form.provider === "scripted" && (
        <div className="form-grid-full">
          <JsonEditor
            label="Script (JSON): rules that decide replies, tool calls and confidence"
            value={form.script}
            onChange={(v) => setForm((f) => ({ ...f, script: v }))}
            rows={6}
          />
        </div>
      )}
    </>
  );
}
