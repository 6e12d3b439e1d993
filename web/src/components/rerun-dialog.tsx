import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { useNavigate } from "react-router";
import type { RerunPlan } from "#events/jobs";
import type { JobDetail } from "../api/endpoints.ts";
import { useServices } from "../api/services.tsx";
import { formatJson } from "../lib/format.ts";
import { InlineError } from "./data-state.tsx";
import { JsonEditor, parseJson } from "./json-editor.tsx";
import { Modal } from "./modal.tsx";

interface Choice {
  input: string;
  fromStep: string;
  version: string;
}

/** Re-runs an ended job: edit its input, pick a step to start from or a version, see the plan, then run it. */
export function RerunDialog({ open, onClose, job }: { open: boolean; onClose: () => void; job: JobDetail }) {
  return (
    <Modal open={open} onClose={onClose} title="Re-run this job">
      <RerunForm onClose={onClose} job={job} />
    </Modal>
  );
}

function RerunForm({ onClose, job }: { onClose: () => void; job: JobDetail }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const id = useId();
  const [choice, setChoice] = useState<Choice>({
    input: formatJson(job.input ?? {}),
    fromStep: "",
    version: "",
  });
  const [planned, setPlanned] = useState<{ for: Choice; plan: RerunPlan } | undefined>();
  const [problem, setProblem] = useState<string | null>(null);
  const versions = useQuery({
    queryKey: ["workflow", job.workflowId, "versions"],
    queryFn: () => api.listWorkflowVersions(job.workflowId ?? ""),
    enabled: job.workflowId !== undefined,
  });

  const bodyOf = (c: Choice, dryRun: boolean) => {
    const parsed = parseJson(c.input.trim() === "" ? "{}" : c.input);
    if (!parsed.ok) {
      setProblem(`Input is not valid JSON: ${parsed.message}`);
      return undefined;
    }
    return {
      input: parsed.value,
      dryRun,
      ...(c.fromStep === "" ? {} : { fromStep: c.fromStep }),
      ...(c.version === "" ? {} : { workflowVersion: Number(c.version) }),
    };
  };

  const plan = useMutation({
    mutationFn: (c: Choice) => {
      const body = bodyOf(c, true);
      if (body === undefined) return Promise.resolve(undefined);
      return api.rerunJob(job.id, body).then((result) => ({ for: c, plan: result }));
    },
    onSuccess: (result) => setPlanned(result),
  });
  const run = useMutation({
    mutationFn: (c: Choice) => {
      const body = bodyOf(c, false);
      if (body === undefined) return Promise.resolve(undefined);
      return api.rerunJob(job.id, body);
    },
    onSuccess: (result) => {
      if (result?.job === undefined) return;
      void queryClient.invalidateQueries({ queryKey: ["jobs"] });
      onClose();
      navigate(`/jobs/${encodeURIComponent(result.job.id)}`);
    },
  });

  const change = (patch: Partial<Choice>) => {
    setProblem(null);
    setChoice((current) => ({ ...current, ...patch }));
  };
  const current =
    planned !== undefined &&
    planned.for.input === choice.input &&
    planned.for.fromStep === choice.fromStep &&
    planned.for.version === choice.version;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    if (current) run.mutate(choice);
    else plan.mutate(choice);
  };

  const nodes = job.definition?.nodes.map((n) => n.id) ?? [...new Set(job.steps.map((s) => s.nodeId))];
  const steps = current ? planned.plan.steps : undefined;
  const again = steps?.filter((s) => s.action === "run").length ?? 0;

  return (
    <form className="stack" onSubmit={submit} aria-label="Re-run">
      <JsonEditor
        label="Input (JSON)"
        value={choice.input}
        onChange={(input) => change({ input })}
        rows={5}
      />
      <div className="filters">
        <label className="field field-inline" htmlFor={`${id}-from`}>
          <span>Start from step</span>
          <select
            id={`${id}-from`}
            value={choice.fromStep}
            onChange={(e) => change({ fromStep: e.target.value })}
          >
            <option value="">Only what changed or did not succeed</option>
            {nodes.map((node) => (
              <option key={node} value={node}>
                {node}
              </option>
            ))}
          </select>
        </label>
        {job.workflowId !== undefined && (
          <label className="field field-inline" htmlFor={`${id}-version`}>
            <span>Workflow version</span>
            <select
              id={`${id}-version`}
              value={choice.version}
              onChange={(e) => change({ version: e.target.value })}
            >
              <option value="">This job's (v{job.workflowVersion})</option>
              {versions.data?.items
                .filter((v) => v.version !== job.workflowVersion)
                .map((v) => (
                  <option key={v.version} value={String(v.version)}>
                    v{v.version}
                  </option>
                ))}
            </select>
          </label>
        )}
      </div>
      {steps && (
        <section aria-label="Plan" className="card">
          <h3>
            Plan: {again} step{again === 1 ? "" : "s"} run again, {steps.length - again}{" "}
            {steps.length - again === 1 ? "keeps its" : "keep their"} output
            {planned?.plan.workflowVersion !== undefined && ` · v${planned.plan.workflowVersion}`}
          </h3>
          <ul className="rerun-plan">
            {steps.map((step) => (
              <li key={step.nodeId} data-node-id={step.nodeId} data-action={step.action}>
                <span className={`plan-action plan-${step.action}`}>
                  {step.action === "run" ? "run" : "keep"}
                </span>
                <code>{step.nodeId}</code>
                <span className="muted small">{step.reason}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {problem && (
        <p className="inline-error" role="alert">
          {problem}
        </p>
      )}
      <InlineError error={plan.error ?? run.error} />
      <div className="actions">
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        {current ? (
          <button type="submit" className="button button-primary" disabled={run.isPending}>
            {run.isPending ? "Starting…" : "Run this plan"}
          </button>
        ) : (
          <button type="submit" className="button button-primary" disabled={plan.isPending}>
            {plan.isPending ? "Planning…" : "Show plan"}
          </button>
        )}
      </div>
    </form>
  );
}
