import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useServices } from "../api/services.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useMe } from "../hooks/use-session.ts";

const USAGE = ["usage", "limits"];

/** Usage against the limits: each tokens-per-minute limit beside what its current window counted. */
export function LimitsPage() {
  const { api } = useServices();
  const me = useMe();
  const usage = useQuery({ queryKey: USAGE, queryFn: () => api.getUsage(), refetchInterval: 5000 });
  return (
    <>
      <PageHeader
        title="Limits"
        meta="Agent steps over a tokens-per-minute limit wait for the next minute, holding no compute; a step that would take its job past a per-job budget fails with BUDGET_EXCEEDED."
      />
      <QueryState query={usage} label="usage">
        {(report) => {
          const limits = report.limits?.limits;
          const windows = report.limits?.windows ?? [];
          const rows = windows.map((w) => ({
            name: w.agent ?? "tenant",
            used: Math.round(w.used),
            limit: w.tokensPerMinute,
          }));
          return (
            <>
              <section className="card" aria-label="Tokens this minute">
                <h2>Tokens this minute</h2>
                {rows.length === 0 ? (
                  <Empty>No tokens-per-minute limits set.</Empty>
                ) : (
                  <>
                    <figure
                      aria-label="Tokens used against limits"
                      style={{ width: "100%", height: 240, margin: 0 }}
                    >
                      <ResponsiveContainer width="100%" height="100%">
                        <BarChart data={rows}>
                          <CartesianGrid strokeDasharray="3 3" />
                          <XAxis dataKey="name" />
                          <YAxis />
                          <Tooltip />
                          <Legend />
                          <Bar
                            dataKey="used"
                            name="used"
                            fill="var(--accent, #4f6bed)"
                            isAnimationActive={false}
                          />
                          <Bar
                            dataKey="limit"
                            name="limit"
                            fill="var(--muted, #999)"
                            isAnimationActive={false}
                          />
                        </BarChart>
                      </ResponsiveContainer>
                    </figure>
                    <ul className="plain-list" aria-label="Windows">
                      {rows.map((row) => (
                        <li key={row.name}>
                          {row.name}: {row.used} of {row.limit} tokens
                        </li>
                      ))}
                    </ul>
                  </>
                )}
              </section>
              <section className="card" aria-label="Per-job budgets">
                <h2>Per-job budgets</h2>
                <ul className="plain-list">
                  <li>Tenant: {limits?.jobUsd === undefined ? "none" : `$${limits.jobUsd} per job`}</li>
                  {(limits?.agents ?? [])
                    .filter((a) => a.jobUsd !== undefined)
                    .map((a) => (
                      <li key={a.agentId}>
                        {a.agent}: ${a.jobUsd} per job
                      </li>
                    ))}
                </ul>
                <p className="muted small">
                  This month: {report.month.inputTokens + report.month.outputTokens} tokens, $
                  {report.month.costUsd.toFixed(4)}
                </p>
              </section>
              {me.data?.role === "admin" && <TenantLimitsForm />}
            </>
          );
        }}
      </QueryState>
    </>
  );
}

function TenantLimitsForm() {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const [tokens, setTokens] = useState("");
  const [usd, setUsd] = useState("");
  const save = useMutation({
    mutationFn: () =>
      api.putLimits({
        tokensPerMinute: tokens.trim() === "" ? null : Number(tokens),
        jobUsd: usd.trim() === "" ? null : Number(usd),
      }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: USAGE }),
  });
  return (
    <form
      className="card"
      aria-label="Tenant limits"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <h2>Tenant limits</h2>
      <label className="field">
        <span>Tokens per minute</span>
        <input
          inputMode="numeric"
          value={tokens}
          onChange={(e) => setTokens(e.target.value)}
          placeholder="none"
        />
      </label>
      <label className="field">
        <span>Dollars per job</span>
        <input inputMode="decimal" value={usd} onChange={(e) => setUsd(e.target.value)} placeholder="none" />
      </label>
      <button type="submit" className="button button-primary" disabled={save.isPending}>
        Save limits
      </button>
      {save.isSuccess && (
        <p className="ok small" role="status">
          Limits saved.
        </p>
      )}
      <InlineError error={save.error} />
    </form>
  );
}
