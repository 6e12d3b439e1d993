import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { useNavigate } from "react-router";
import type { CreateJobRequest } from "#events/jobs";
import { WorkflowDefinition } from "#events/workflow";
import { errorMessage } from "../api/api-error.ts";
import { useServices } from "../api/services.tsx";
import { InlineError } from "./data-state.tsx";
import { JsonEditor, parseJson } from "./json-editor.tsx";
import { Modal } from "./modal.tsx";

const SAMPLE_WORKFLOW = JSON.stringify(
  { name: "hello", nodes: [{ id: "greet", type: "code", code: "return { hello: input.name ?? 'world' }" }] },
  null,
  2,
);

/** Starts a job from a saved workflow or an inline definition, with JSON input, then opens it. */
export function RunDialog({
  open,
  onClose,
  workflowId,
}: {
  open: boolean;
  onClose: () => void;
  /** Preselects a saved workflow. */
  workflowId?: string;
}) {
  return (
    <Modal open={open} onClose={onClose} title="Run a workflow">
      <RunForm onClose={onClose} workflowId={workflowId} />
    </Modal>
  );
}

function RunForm({ onClose, workflowId }: { onClose: () => void; workflowId?: string | undefined }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const workflows = useQuery({ queryKey: ["workflows"], queryFn: () => api.listWorkflows() });
  const [source, setSource] = useState<"saved" | "inline">("saved");
  const [selected, setSelected] = useState(workflowId ?? "");
  const [definition, setDefinition] = useState(SAMPLE_WORKFLOW);
  const [input, setInput] = useState("{}");
  const [problem, setProblem] = useState<string | null>(null);

  const noSaved = workflows.isError || (workflows.data && workflows.data.items.length === 0);
  const mode = noSaved && !workflowId ? "inline" : source;

  const run = useMutation({
    mutationFn: (body: CreateJobRequest) => api.createJob(body),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      onClose();
      navigate(`/jobs/${encodeURIComponent(created.jobId)}`);
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const parsedInput = parseJson(input.trim() === "" ? "{}" : input);
    if (!parsedInput.ok) return setProblem(`Input is not valid JSON: ${parsedInput.message}`);
    if (mode === "saved") {
      if (!selected) return setProblem("Choose a workflow.");
      return run.mutate({ workflowId: selected, input: parsedInput.value });
    }
    const parsedDefinition = parseJson(definition);
    if (!parsedDefinition.ok) return setProblem(`Workflow is not valid JSON: ${parsedDefinition.message}`);
    const checked = WorkflowDefinition.safeParse(parsedDefinition.value);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      return setProblem(`Workflow is invalid: ${issue?.path.join(".") || "definition"}: ${issue?.message}`);
    }
    run.mutate({ workflow: checked.data, input: parsedInput.value });
  };

  return (
    <form className="stack" onSubmit={submit}>
      <fieldset className="segmented">
        <legend className="field-label">Workflow source</legend>
        <label>
          <input
            type="radio"
            name="source"
            value="saved"
            checked={mode === "saved"}
            disabled={Boolean(noSaved) && !workflowId}
            onChange={() => setSource("saved")}
          />
          Saved workflow
        </label>
        <label>
          <input
            type="radio"
            name="source"
            value="inline"
            checked={mode === "inline"}
            onChange={() => setSource("inline")}
          />
          Inline definition
        </label>
      </fieldset>
      {mode === "saved" ? (
        <label className="field">
          <span>Workflow</span>
          <select value={selected} onChange={(e) => setSelected(e.target.value)} required>
            <option value="">{workflows.isPending ? "Loading workflows…" : "Choose a workflow"}</option>
            {workflowId && !workflows.data?.items.some((w) => w.id === workflowId) && (
              <option value={workflowId}>{workflowId}</option>
            )}
            {workflows.data?.items.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
                {w.version ? ` (v${w.version})` : ""}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <>
          {workflows.isError && (
            <p className="muted small">Saved workflows are unavailable ({errorMessage(workflows.error)}).</p>
          )}
          <JsonEditor
            label="Workflow definition (JSON)"
            value={definition}
            onChange={setDefinition}
            rows={8}
          />
        </>
      )}
      <JsonEditor label="Input (JSON)" value={input} onChange={setInput} rows={5} />
      {problem && (
        <p className="inline-error" role="alert">
          {problem}
        </p>
      )}
      <InlineError error={run.error} />
      <div className="actions">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={run.isPending}>
          {run.isPending ? "Starting…" : "Start job"}
        </button>
      </div>
    </form>
  );
}
