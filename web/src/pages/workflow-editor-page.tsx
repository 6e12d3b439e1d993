import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { WorkflowDefinition } from "#events/workflow";
import { ApiError, errorMessage, type Problem } from "../api/api-error.ts";
import { useServices } from "../api/services.tsx";
import { Empty, ErrorState, InlineError, Loading, QueryState } from "../components/data-state.tsx";
import { JsonEditor, parseJson } from "../components/json-editor.tsx";
import { WorkflowGraph } from "../components/lazy-workflow-graph.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { RunDialog } from "../components/run-dialog.tsx";
import { useDebounced } from "../hooks/use-debounced.ts";
import { useMe } from "../hooks/use-session.ts";
import { formatDateTime } from "../lib/format.ts";
import { buildGraph, type GraphSourceNode, previewNodes } from "../lib/graph-model.ts";
import { canWrite } from "../lib/nav.ts";
import { mergeProblems, problemLine, withNodeId } from "../lib/problems.ts";

const TEMPLATE = `{
  "name": "my-workflow",
  "nodes": [
    { "id": "fetch", "type": "code", "code": "return { items: [1, 2, 3] }" },
    { "id": "double", "type": "code", "dependsOn": ["fetch"], "forEach": "{% $steps.fetch.output.items %}", "code": "return item * 2" },
    { "id": "report", "type": "code", "dependsOn": ["double"], "code": "return { done: true }" }
  ]
}
`;

export function WorkflowEditorPage() {
  const { id } = useParams();
  const { api } = useServices();
  const workflow = useQuery({
    queryKey: ["workflow", id],
    enabled: id !== undefined,
    queryFn: async () => {
      const found = await api.getWorkflow(id ?? "");
      if (found.definition || found.version === undefined) return found;
      // A summary without the definition: the latest version has it.
      const version = await api.getWorkflowVersion(found.id, found.version);
      return { ...found, definition: version.definition ?? found.definition };
    },
  });
  if (id === undefined) return <Editor key="new" initialText={TEMPLATE} />;
  if (workflow.isPending) return <Loading label="Loading workflow…" />;
  if (workflow.isError) {
    return (
      <>
        <PageHeader title="Workflow" />
        <ErrorState
          error={workflow.error}
          title="Could not load this workflow"
          onRetry={() => void workflow.refetch()}
        />
      </>
    );
  }
  return (
    <Editor
      key={id}
      workflowId={id}
      name={workflow.data.name}
      version={workflow.data.version}
      initialText={`${JSON.stringify(workflow.data.definition ?? {}, null, 2)}\n`}
    />
  );
}

function localProblems(value: unknown): Problem[] {
  const checked = WorkflowDefinition.safeParse(value);
  if (checked.success) return [];
  return checked.error.issues.map((issue) =>
    withNodeId({ path: issue.path.join("."), message: issue.message }, value),
  );
}

function Editor({
  workflowId,
  name,
  version,
  initialText,
}: {
  workflowId?: string;
  name?: string;
  version?: number | undefined;
  initialText: string;
}) {
  const { api } = useServices();
  const me = useMe();
  const writer = canWrite(me.data?.role);
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const problemsId = useId();
  const [text, setText] = useState(initialText);
  const [running, setRunning] = useState(false);

  const parsed = useMemo(() => parseJson(text), [text]);
  const lastGood = useRef<GraphSourceNode[]>([]);
  const preview = useMemo(() => {
    if (parsed.ok) lastGood.current = previewNodes(parsed.value);
    return lastGood.current;
  }, [parsed]);

  const debounced = useDebounced(text, 400);
  const debouncedParsed = useMemo(() => parseJson(debounced), [debounced]);
  const serverCheck = useQuery({
    queryKey: ["validate", debounced],
    enabled: debouncedParsed.ok,
    queryFn: () => api.validateWorkflow(debouncedParsed.ok ? debouncedParsed.value : undefined),
    staleTime: Number.POSITIVE_INFINITY,
    retry: false,
  });
  const serverError = serverCheck.error instanceof ApiError ? serverCheck.error : undefined;
  const serverProblems = serverError?.status === 400 ? serverError.problems : [];
  const serverUnavailable = serverCheck.isError && serverError?.status !== 400;

  const problems: Problem[] = parsed.ok
    ? mergeProblems(
        localProblems(parsed.value),
        debounced === text ? serverProblems.map((p) => withNodeId(p, parsed.value)) : [],
      )
    : [{ path: "", message: `JSON syntax: ${parsed.message}` }];
  const errorLines = new Set<number>();
  if (!parsed.ok && parsed.line) errorLines.add(parsed.line);
  if (parsed.ok) {
    for (const problem of problems) {
      const line = problemLine(text, parsed.value, problem);
      if (line) errorLines.add(line);
    }
  }
  const checking = parsed.ok && (debounced !== text || serverCheck.isFetching);
  const valid = parsed.ok && problems.length === 0;

  const save = useMutation({
    mutationFn: () => {
      const definition = parsed.ok ? parsed.value : undefined;
      return workflowId ? api.updateWorkflow(workflowId, definition) : api.createWorkflow(definition);
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: ["workflows"] });
      void queryClient.invalidateQueries({ queryKey: ["workflow", saved.id ?? workflowId] });
      void queryClient.invalidateQueries({ queryKey: ["workflow-versions", saved.id ?? workflowId] });
      if (!workflowId && saved.id) navigate(`/workflows/${encodeURIComponent(saved.id)}`, { replace: true });
    },
  });

  return (
    <>
      <PageHeader
        title={workflowId ? (name ?? "Workflow") : "New workflow"}
        meta={
          <>
            <Link to="/workflows">Workflows</Link>
            {version !== undefined && <span> · latest v{version}</span>}
          </>
        }
      >
        {writer && (
          <>
            {workflowId && (
              <button type="button" className="button" onClick={() => setRunning(true)}>
                Run
              </button>
            )}
            <button
              type="button"
              className="button button-primary"
              disabled={!valid || save.isPending}
              onClick={() => save.mutate()}
            >
              {save.isPending ? "Saving…" : workflowId ? "Save new version" : "Create workflow"}
            </button>
          </>
        )}
      </PageHeader>
      <InlineError error={save.error} />
      <div className="editor-layout">
        <div className="stack">
          <JsonEditor
            label="Definition (JSON)"
            value={text}
            onChange={setText}
            errorLines={errorLines}
            rows={24}
            describedBy={problemsId}
            readOnly={!writer}
          />
          <div id={problemsId} aria-live="polite" className="problems">
            {problems.length > 0 ? (
              <>
                <p className="inline-error">
                  {problems.length} problem{problems.length === 1 ? "" : "s"}
                </p>
                <ul className="problem-list">
                  {problems.map((p) => (
                    <li key={`${p.nodeId ?? ""}|${p.path}|${p.message}`}>
                      {p.nodeId && <code>{p.nodeId}</code>}{" "}
                      {p.path && <span className="muted mono">{p.path}</span>} {p.message}
                    </li>
                  ))}
                </ul>
              </>
            ) : checking ? (
              <p className="muted">Checking…</p>
            ) : (
              <p className="ok">Valid workflow.</p>
            )}
            {serverUnavailable && (
              <p className="muted small">Server-side checks unavailable: {errorMessage(serverCheck.error)}</p>
            )}
          </div>
        </div>
        <div className="stack">
          <h2 className="section-title">Preview</h2>
          {preview.length === 0 ? (
            <Empty>Add nodes to see the graph.</Empty>
          ) : (
            <WorkflowGraph model={buildGraph(preview)} label="Workflow preview" />
          )}
          {workflowId && <Versions workflowId={workflowId} current={version} onLoad={setText} />}
        </div>
      </div>
      {workflowId && <RunDialog open={running} onClose={() => setRunning(false)} workflowId={workflowId} />}
    </>
  );
}

function Versions({
  workflowId,
  current,
  onLoad,
}: {
  workflowId: string;
  current: number | undefined;
  onLoad: (text: string) => void;
}) {
  const { api } = useServices();
  const versions = useQuery({
    queryKey: ["workflow-versions", workflowId],
    queryFn: () => api.listWorkflowVersions(workflowId),
  });
  const load = useMutation({
    mutationFn: async (version: number) => {
      const listed = versions.data?.items.find((v) => v.version === version);
      return listed?.definition ?? (await api.getWorkflowVersion(workflowId, version)).definition;
    },
    onSuccess: (definition) => {
      if (definition) onLoad(`${JSON.stringify(definition, null, 2)}\n`);
    },
  });
  return (
    <section aria-labelledby="versions-title">
      <h2 id="versions-title" className="section-title">
        Versions
      </h2>
      <QueryState query={versions} label="versions">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No versions.</Empty>
          ) : (
            <ul className="version-list">
              {[...page.items]
                .sort((a, b) => b.version - a.version)
                .map((v) => (
                  <li key={v.version}>
                    <span>
                      <strong>v{v.version}</strong>
                      {v.version === current && <span className="muted"> (latest)</span>}
                    </span>
                    <span className="muted small">{formatDateTime(v.createdAt)}</span>
                    <button
                      type="button"
                      className="button button-small"
                      onClick={() => load.mutate(v.version)}
                      aria-label={`Load version ${v.version} into the editor`}
                    >
                      Load
                    </button>
                  </li>
                ))}
            </ul>
          )
        }
      </QueryState>
      <InlineError error={load.error} />
    </section>
  );
}
