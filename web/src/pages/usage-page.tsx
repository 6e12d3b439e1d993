import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { Link } from "react-router";
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";
import type { Budget, UsageReport } from "#events/agents";
import { useServices } from "../api/services.tsx";
import { axisProps, ChartCard, COLORS, tooltipProps } from "../components/charts.tsx";
import { Empty, InlineError, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { useMe } from "../hooks/use-session.ts";
import { dayKeyLabel, firstOfMonth, formatCount, formatUsd, utcDay } from "../lib/figures.ts";
import { formatDateTime, formatPercent, shortId } from "../lib/format.ts";

type GroupBy = UsageReport["groupBy"];
type Row = UsageReport["items"][number];

const GROUPS: Record<GroupBy, string> = {
  day: "Day",
  agent: "Agent",
  workflow: "Workflow",
  model: "Model",
  job: "Job",
};

function keyCell(groupBy: GroupBy, key: string) {
  if (groupBy === "day") return <time dateTime={key}>{dayKeyLabel(key)}</time>;
  if (groupBy === "job")
    return key.startsWith("j_") ? (
      <Link className="mono" to={`/jobs/${encodeURIComponent(key)}`} title={key}>
        {shortId(key)}
      </Link>
    ) : (
      <span className="muted">{key === "api" ? "API calls (no job)" : key}</span>
    );
  return <span className={groupBy === "model" ? "mono" : undefined}>{key}</span>;
}

export function UsagePage() {
  const { api } = useServices();
  const me = useMe();
  const id = useId();
  const now = new Date();
  const [from, setFrom] = useState(firstOfMonth(now));
  const [to, setTo] = useState(utcDay(now));
  const [groupBy, setGroupBy] = useState<GroupBy>("day");
  const usage = useQuery({
    queryKey: ["usage", groupBy, from, to],
    queryFn: () => api.getUsage({ from, to, groupBy }),
  });
  const columns: Column<Row>[] = [
    { header: GROUPS[groupBy], cell: (r) => keyCell(groupBy, r.key) },
    { header: "Input tokens", cell: (r) => formatCount(r.inputTokens), className: "numeric" },
    { header: "Output tokens", cell: (r) => formatCount(r.outputTokens), className: "numeric" },
    { header: "Agent steps", cell: (r) => formatCount(r.steps), className: "numeric" },
    { header: "Cost", cell: (r) => formatUsd(r.costUsd), className: "numeric" },
  ];
  return (
    <>
      <PageHeader title="Usage" meta="Agent and embedding tokens and their cost, by UTC day." />
      <div className="filters">
        <label className="field-inline" htmlFor={`${id}-from`}>
          <span>From</span>
          <input
            id={`${id}-from`}
            type="date"
            value={from}
            max={to}
            onChange={(e) => setFrom(e.target.value)}
          />
        </label>
        <label className="field-inline" htmlFor={`${id}-to`}>
          <span>To</span>
          <input id={`${id}-to`} type="date" value={to} min={from} onChange={(e) => setTo(e.target.value)} />
        </label>
        <label className="field-inline" htmlFor={`${id}-group`}>
          <span>Group by</span>
          <select id={`${id}-group`} value={groupBy} onChange={(e) => setGroupBy(e.target.value as GroupBy)}>
            {Object.entries(GROUPS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <QueryState query={usage} label="usage">
        {(report) => (
          <>
            <section className="tiles" aria-label="Usage totals">
              <div className="card tile">
                <p className="tile-label">Cost in range</p>
                <p className="tile-value">{formatUsd(report.total.costUsd)}</p>
              </div>
              <div className="card tile">
                <p className="tile-label">Tokens in range</p>
                <p className="tile-value">
                  {formatCount(report.total.inputTokens + report.total.outputTokens)}
                </p>
              </div>
              <div className="card tile">
                <p className="tile-label">This month ({report.month.month})</p>
                <p className="tile-value">{formatUsd(report.month.costUsd)}</p>
                <p className="muted small">
                  {report.budget?.monthlyUsd === undefined
                    ? "no dollar budget"
                    : `${formatPercent(report.month.costUsd / (report.budget.monthlyUsd || 1))} of ${formatUsd(report.budget.monthlyUsd)}`}
                </p>
              </div>
            </section>
            {report.items.length === 0 ? (
              <Empty>No usage in this range.</Empty>
            ) : (
              <>
                {groupBy !== "job" && <UsageChart report={report} />}
                <DataTable
                  rows={report.items}
                  columns={columns}
                  rowKey={(r) => r.key}
                  caption={`Usage by ${GROUPS[groupBy].toLowerCase()}`}
                />
              </>
            )}
            {(groupBy === "agent" || groupBy === "workflow") && (
              <p className="muted small">
                Per agent and per workflow, agent steps are counted; embedding calls have neither.
              </p>
            )}
          </>
        )}
      </QueryState>
      <BudgetForm admin={me.data?.role === "admin"} />
    </>
  );
}

function UsageChart({ report }: { report: UsageReport }) {
  const rows = report.items.map((item) => ({
    label: report.groupBy === "day" ? dayKeyLabel(item.key) : item.key,
    cost: item.costUsd,
  }));
  return (
    <div className="chart-grid grid-cards">
      <ChartCard id="usage-chart" title={`Cost by ${GROUPS[report.groupBy].toLowerCase()}`} height={220} wide>
        <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
          <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" {...axisProps} minTickGap={8} />
          <YAxis {...axisProps} tickFormatter={(v: number) => formatUsd(v)} width={64} />
          <Tooltip {...tooltipProps} formatter={(v) => formatUsd(Number(v))} />
          <Bar dataKey="cost" name="Cost" fill={COLORS.accent} />
        </BarChart>
      </ChartCard>
    </div>
  );
}

/** Everyone sees the budget; admins change it. An empty field removes that limit. */
function BudgetForm({ admin }: { admin: boolean }) {
  const { api } = useServices();
  const queryClient = useQueryClient();
  const id = useId();
  const budget = useQuery({ queryKey: ["budget"], queryFn: api.getBudget });
  return (
    <section className="card budget" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Monthly budget</h2>
      <p className="muted small">
        Once this month's usage reaches a limit, new agent steps fail with BUDGET_EXCEEDED.
      </p>
      <QueryState query={budget} label="the budget">
        {(current) =>
          admin ? (
            <BudgetEditor
              current={current}
              onSaved={() => {
                void queryClient.invalidateQueries({ queryKey: ["budget"] });
                void queryClient.invalidateQueries({ queryKey: ["usage"] });
              }}
            />
          ) : (
            <dl className="facts">
              <dt>Dollars</dt>
              <dd>{current.monthlyUsd === undefined ? "no limit" : formatUsd(current.monthlyUsd)}</dd>
              <dt>Tokens</dt>
              <dd>{current.monthlyTokens === undefined ? "no limit" : formatCount(current.monthlyTokens)}</dd>
            </dl>
          )
        }
      </QueryState>
    </section>
  );
}

function BudgetEditor({ current, onSaved }: { current: Budget; onSaved: () => void }) {
  const { api } = useServices();
  const [usd, setUsd] = useState(current.monthlyUsd === undefined ? "" : String(current.monthlyUsd));
  const [tokens, setTokens] = useState(
    current.monthlyTokens === undefined ? "" : String(current.monthlyTokens),
  );
  const save = useMutation({
    mutationFn: () =>
      api.putBudget({
        monthlyUsd: usd.trim() === "" ? null : Number(usd),
        monthlyTokens: tokens.trim() === "" ? null : Number(tokens),
      }),
    onSuccess: onSaved,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form className="form-grid" onSubmit={submit}>
      <label className="field">
        <span>Dollars a month</span>
        <input
          type="number"
          min={0}
          step="0.01"
          value={usd}
          onChange={(e) => setUsd(e.target.value)}
          placeholder="no limit"
        />
      </label>
      <label className="field">
        <span>Tokens a month</span>
        <input
          type="number"
          min={0}
          step={1}
          value={tokens}
          onChange={(e) => setTokens(e.target.value)}
          placeholder="no limit"
        />
      </label>
      <InlineError error={save.error} />
      <div className="actions form-grid-full">
        {save.isSuccess && (
          <span className="ok small" role="status">
            Saved{save.data?.updatedAt ? ` at ${formatDateTime(save.data.updatedAt)}` : ""}.
          </span>
        )}
        <button type="submit" className="button button-primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save budget"}
        </button>
      </div>
    </form>
  );
}
