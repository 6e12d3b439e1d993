import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ProviderName } from "#events/agents";
import { useServices } from "../api/services.tsx";
import type { Agent } from "../api/types.ts";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { JsonEditor, parseJson } from "../components/json-editor.tsx";
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
  const agents = useQuery({ queryKey: KEY, queryFn: api.listAgents });
  return (
    <>
      <PageHeader title="Agents" meta="Model, prompt and tools that agent steps call by name." />
      <QueryState query={agents} label="agents">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No agents yet.</Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(a) => a.id} caption="Agents" />
          )
        }
      </QueryState>
      {canWrite(me.data?.role) && <CreateAgent />}
    </>
  );
}

function CreateAgent() {
  const { api } = useServices();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({
    name: "",
    provider: "scripted" as string,
    model: "",
    systemPrompt: "",
    tools: "",
    baseUrl: "",
    secret: "",
    maxTurns: "",
    script: SCRIPT_TEMPLATE,
  });
  const [problem, setProblem] = useState<string | null>(null);
  const create = useCreate(KEY, api.createAgent, () => {
    setOpen(false);
    setForm((f) => ({ ...f, name: "", model: "", systemPrompt: "", tools: "", script: SCRIPT_TEMPLATE }));
  });
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [key]: e.target.value }));

  const submit = () => {
    setProblem(null);
    const body: Record<string, unknown> = {
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
      if (!parsed.ok) return setProblem(`Script is not valid JSON: ${parsed.message}`);
      body.script = parsed.value;
    }
    create.mutate(body);
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
    </CreatePanel>
  );
}
