import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useServices } from "../api/services.tsx";
import type { Tool } from "../api/types.ts";
import { CreatePanel } from "../components/create-panel.tsx";
import { Empty, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { JsonEditor, parseJson } from "../components/json-editor.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useCreate } from "../hooks/use-create.ts";
import { useMe } from "../hooks/use-session.ts";
import { canWrite } from "../lib/nav.ts";

const KEY = ["tools"];

const columns: Column<Tool>[] = [
  { header: "Name", cell: (t) => <span className="mono">{t.name}</span> },
  { header: "Kind", cell: (t) => (t.builtIn ? "built in" : (t.type ?? "custom")) },
  { header: "Description", cell: (t) => t.description || <span className="muted">—</span> },
  {
    header: "Endpoint",
    cell: (t) =>
      t.url ? (
        <span className="mono small">
          {t.method ?? "GET"} {t.url}
        </span>
      ) : (
        <span className="muted">—</span>
      ),
  },
];

const TEMPLATE = `{
  "name": "lookup_order",
  "description": "Fetch an order by id",
  "method": "GET",
  "url": "https://api.example.com/orders/{id}",
  "headers": { "authorization": "Bearer {{secret:ORDERS_TOKEN}}" },
  "parameters": {
    "type": "object",
    "properties": { "id": { "type": "string" } },
    "required": ["id"]
  }
}
`;

export function ToolsPage() {
  const { api } = useServices();
  const me = useMe();
  const tools = useQuery({ queryKey: KEY, queryFn: api.listTools });
  return (
    <>
      <PageHeader title="Tools" meta="What tool steps and agents can call." />
      <QueryState query={tools} label="tools">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No tools yet.</Empty>
          ) : (
            <DataTable rows={page.items} columns={columns} rowKey={(t) => t.id ?? t.name} caption="Tools" />
          )
        }
      </QueryState>
      {canWrite(me.data?.role) && <CreateTool />}
    </>
  );
}

/** A custom HTTP tool is mostly a JSON schema, so the form is the JSON the API takes. */
function CreateTool() {
  const { api } = useServices();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState(TEMPLATE);
  const [problem, setProblem] = useState<string | null>(null);
  const create = useCreate(KEY, api.createTool, () => setOpen(false));
  const parsed = parseJson(text);
  return (
    <CreatePanel
      title="New tool"
      open={open}
      onToggle={setOpen}
      pending={create.isPending}
      error={problem ? new Error(problem) : create.error}
      onSubmit={() => {
        setProblem(null);
        if (!parsed.ok) return setProblem(`Not valid JSON: ${parsed.message}`);
        create.mutate(parsed.value);
      }}
    >
      <div className="form-grid-full">
        <JsonEditor
          label="Tool (JSON)"
          value={text}
          onChange={setText}
          rows={12}
          errorLines={!parsed.ok && parsed.line ? new Set([parsed.line]) : undefined}
        />
      </div>
    </CreatePanel>
  );
}
