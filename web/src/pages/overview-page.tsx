import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import {
  Bar,
  BarChart,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { UsageReport } from "#events/agents";
import type { JobStats } from "#events/stats";
import { useServices } from "../api/services.tsx";
import { axisProps, ChartCard, COLORS, legendProps, tooltipProps } from "../components/charts.tsx";
import { Empty, QueryState } from "../components/data-state.tsx";
import { type Column, DataTable } from "../components/data-table.tsx";
import { PageHeader } from "../components/page-header.tsx";
import {
  bucketLabel,
  dayKeyLabel,
  daysBetween,
  firstOfMonth,
  formatCompact,
  formatCount,
  formatUsd,
  utcDay,
} from "../lib/figures.ts";
import { formatDuration, formatPercent } from "../lib/format.ts";

const WINDOWS = {
  "24h": { label: "Last 24 hours", hours: 24, bucket: "hour" },
  "7d": { label: "Last 7 days", hours: 24 * 7, bucket: "day" },
  "30d": { label: "Last 30 days", hours: 24 * 30, bucket: "day" },
} as const;
type WindowKey = keyof typeof WINDOWS;

const durationTick = (ms: number) => formatDuration(ms);

export function OverviewPage() {
  const { api } = useServices();
  const [windowKey, setWindowKey] = useState<WindowKey>("24h");
  const window = WINDOWS[windowKey];
  const stats = useQuery({
    queryKey: ["stats", "jobs", windowKey],
    queryFn: () => {
      const to = new Date();
      const from = new Date(to.getTime() - window.hours * 3_600_000);
      return api.jobStats({ from: from.toISOString(), to: to.toISOString(), bucket: window.bucket });
    },
    refetchInterval: 30_000,
  });
  return (
    <>
      <PageHeader
        title="Overview"
        meta="Runs, durations and failures, and what agents cost against the budget."
      >
        <label className="field-inline">
          <span>Window</span>
          <select value={windowKey} onChange={(e) => setWindowKey(e.target.value as WindowKey)}>
            {Object.entries(WINDOWS).map(([key, w]) => (
              <option key={key} value={key}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
      </PageHeader>
      <QueryState query={stats} label="run statistics">
        {(data) => <RunCharts stats={data} />}
      </QueryState>
      <h2 className="overview-section">Cost and tokens this month</h2>
      <UsageCharts />
    </>
  );
}

function Tile({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <div className="card tile">
      <p className="tile-label">{label}</p>
      <p className="tile-value">{value}</p>
      {detail && <p className="muted small">{detail}</p>}
    </div>
  );
}

const STATUS_SERIES = [
  { key: "succeeded", label: "Succeeded", color: COLORS.succeeded },
  { key: "failed", label: "Failed or timed out", color: COLORS.failed },
  { key: "cancelled", label: "Cancelled", color: COLORS.cancelled },
  { key: "active", label: "Queued, running or waiting", color: COLORS.active },
] as const;

type WorkflowRow = JobStats["byWorkflow"][number];
const workflowColumns: Column<WorkflowRow>[] = [
  { header: "Workflow", cell: (w) => <strong>{w.workflow}</strong> },
  { header: "Runs", cell: (w) => formatCount(w.total), className: "numeric" },
  { header: "Failure rate", cell: (w) => formatPercent(w.failureRate ?? undefined), className: "numeric" },
  { header: "p50", cell: (w) => (w.p50Ms === null ? "—" : formatDuration(w.p50Ms)), className: "numeric" },
  { header: "p95", cell: (w) => (w.p95Ms === null ? "—" : formatDuration(w.p95Ms)), className: "numeric" },
];

function RunCharts({ stats }: { stats: JobStats }) {
  const unit = stats.bucket === "hour" ? "hour" : "day";
  const rows = stats.buckets.map((b) => ({
    label: bucketLabel(b.start, stats.bucket),
    succeeded: b.byStatus.succeeded ?? 0,
    failed: (b.byStatus.failed ?? 0) + (b.byStatus.timed_out ?? 0),
    cancelled: b.byStatus.cancelled ?? 0,
    active: (b.byStatus.queued ?? 0) + (b.byStatus.running ?? 0) + (b.byStatus.waiting ?? 0),
    p50: b.p50Ms,
    p95: b.p95Ms,
    failureRate: b.failureRate === null ? null : Math.round(b.failureRate * 1000) / 10,
  }));
  const { total } = stats;
  return (
    <>
      <section className="tiles" aria-label="Run figures">
        <Tile label="Runs" value={formatCount(total.total)} detail={`${formatCount(total.ended)} ended`} />
        <Tile
          label="Failure rate"
          value={formatPercent(total.failureRate ?? undefined)}
          detail="failed or timed out, of ended runs"
        />
        <Tile label="p50 duration" value={total.p50Ms === null ? "—" : formatDuration(total.p50Ms)} />
        <Tile label="p95 duration" value={total.p95Ms === null ? "—" : formatDuration(total.p95Ms)} />
      </section>
      {stats.truncated && (
        <p className="callout small">Only the newest 20,000 runs of this window are counted.</p>
      )}
      <div className="grid-cards chart-grid">
        <ChartCard id="runs" title={`Runs per ${unit} by status`} wide>
          <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
            <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="label" {...axisProps} minTickGap={12} />
            <YAxis {...axisProps} allowDecimals={false} />
            <Tooltip {...tooltipProps} />
            <Legend {...legendProps} />
            {STATUS_SERIES.map((s) => (
              <Bar key={s.key} dataKey={s.key} name={s.label} stackId="runs" fill={s.color} />
            ))}
          </BarChart>
        </ChartCard>
        <ChartCard id="durations" title={`Duration per ${unit}, p50 and p95`}>
          <LineChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
            <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="label" {...axisProps} minTickGap={12} />
            <YAxis {...axisProps} tickFormatter={durationTick} width={56} />
            <Tooltip {...tooltipProps} formatter={(v) => (typeof v === "number" ? formatDuration(v) : "—")} />
            <Legend {...legendProps} />
            <Line
              dataKey="p50"
              name="p50"
              stroke={COLORS.accent}
              dot={{ r: 2 }}
              connectNulls
              strokeWidth={2}
            />
            <Line
              dataKey="p95"
              name="p95"
              stroke={COLORS.second}
              dot={{ r: 2 }}
              connectNulls
              strokeWidth={2}
            />
          </LineChart>
        </ChartCard>
        <ChartCard id="failures" title={`Failure rate per ${unit}`}>
          <LineChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: -8 }}>
            <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="label" {...axisProps} minTickGap={12} />
            <YAxis {...axisProps} domain={[0, 100]} unit="%" />
            <Tooltip {...tooltipProps} formatter={(v) => (typeof v === "number" ? `${v}%` : "—")} />
            <Line
              dataKey="failureRate"
              name="Failure rate"
              stroke={COLORS.failed}
              dot={{ r: 2 }}
              connectNulls
              strokeWidth={2}
            />
          </LineChart>
        </ChartCard>
      </div>
      <section aria-labelledby="by-workflow-title" className="overview-table">
        <h2 id="by-workflow-title">By workflow</h2>
        {stats.byWorkflow.length === 0 ? (
          <Empty>
            No runs in this window. <Link to="/jobs">Start one from the Jobs page.</Link>
          </Empty>
        ) : (
          <DataTable
            rows={stats.byWorkflow}
            columns={workflowColumns}
            rowKey={(w) => w.workflow}
            caption="Runs by workflow"
          />
        )}
      </section>
    </>
  );
}

/** This month's usage: per day with the running total against the budget, and per agent and workflow. */
function UsageCharts() {
  const { api } = useServices();
  const today = utcDay(new Date());
  const from = firstOfMonth(new Date());
  const range = { from, to: today };
  const byDay = useQuery({
    queryKey: ["usage", "day", from, today],
    queryFn: () => api.getUsage({ ...range, groupBy: "day" }),
  });
  const byAgent = useQuery({
    queryKey: ["usage", "agent", from, today],
    queryFn: () => api.getUsage({ ...range, groupBy: "agent" }),
  });
  const byWorkflow = useQuery({
    queryKey: ["usage", "workflow", from, today],
    queryFn: () => api.getUsage({ ...range, groupBy: "workflow" }),
  });
  return (
    <QueryState query={byDay} label="usage">
      {(report) => (
        <>
          <BudgetTiles report={report} />
          <div className="grid-cards chart-grid">
            <CostPerDay report={report} />
            <TokensPerDay report={report} />
            <GroupChart id="cost-agent" title="Cost and tokens per agent" query={byAgent} />
            <GroupChart id="cost-workflow" title="Cost and tokens per workflow" query={byWorkflow} />
          </div>
        </>
      )}
    </QueryState>
  );
}

function BudgetTiles({ report }: { report: UsageReport }) {
  const { month, budget } = report;
  const tokens = month.inputTokens + month.outputTokens;
  const share = (used: number, limit: number | undefined) =>
    limit === undefined || limit === 0 ? undefined : `${formatPercent(used / limit)} of the budget`;
  return (
    <section className="tiles" aria-label="Budget figures">
      <Tile
        label="Cost this month"
        value={formatUsd(month.costUsd)}
        detail={
          budget?.monthlyUsd === undefined
            ? "no dollar budget"
            : `budget ${formatUsd(budget.monthlyUsd)}, ${share(month.costUsd, budget.monthlyUsd)}`
        }
      />
      <Tile
        label="Tokens this month"
        value={formatCompact(tokens)}
        detail={
          budget?.monthlyTokens === undefined
            ? "no token budget"
            : `budget ${formatCompact(budget.monthlyTokens)}, ${share(tokens, budget.monthlyTokens)}`
        }
      />
      <Tile label="Agent steps this month" value={formatCount(month.steps)} />
    </section>
  );
}

function CostPerDay({ report }: { report: UsageReport }) {
  const byDay = new Map(report.items.map((item) => [item.key, item]));
  let running = 0;
  const rows = daysBetween(report.from, report.to).map((day) => {
    const cost = byDay.get(day)?.costUsd ?? 0;
    running += cost;
    return { label: dayKeyLabel(day), cost, total: Math.round(running * 1e6) / 1e6 };
  });
  const budget = report.budget?.monthlyUsd;
  return (
    <ChartCard
      id="cost-day"
      title="Cost per day, and the month so far against the budget"
      summary={
        budget === undefined
          ? "No monthly dollar budget is set (the Usage page sets one)."
          : `Budget ${formatUsd(budget)} a month.`
      }
      wide
    >
      <ComposedChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
        <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="label" {...axisProps} minTickGap={12} />
        <YAxis
          {...axisProps}
          tickFormatter={(v: number) => formatUsd(v)}
          width={64}
          domain={[0, (max: number) => Math.max(max, budget ?? 0)]}
        />
        <Tooltip {...tooltipProps} formatter={(v) => formatUsd(Number(v))} />
        <Legend {...legendProps} />
        <Bar dataKey="cost" name="Cost that day" fill={COLORS.accent} />
        <Line dataKey="total" name="Month so far" stroke={COLORS.second} dot={false} strokeWidth={2} />
        {budget !== undefined && (
          <ReferenceLine
            y={budget}
            stroke={COLORS.budget}
            strokeDasharray="6 3"
            label={{ value: "Budget", fill: COLORS.budget, fontSize: 12, position: "insideTopLeft" }}
          />
        )}
      </ComposedChart>
    </ChartCard>
  );
}

function TokensPerDay({ report }: { report: UsageReport }) {
  const byDay = new Map(report.items.map((item) => [item.key, item]));
  const rows = daysBetween(report.from, report.to).map((day) => ({
    label: dayKeyLabel(day),
    input: byDay.get(day)?.inputTokens ?? 0,
    output: byDay.get(day)?.outputTokens ?? 0,
  }));
  return (
    <ChartCard id="tokens-day" title="Tokens per day" wide>
      <BarChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
        <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" vertical={false} />
        <XAxis dataKey="label" {...axisProps} minTickGap={12} />
        <YAxis
          {...axisProps}
          tickFormatter={(v: number) => formatCompact(v)}
          width={48}
          allowDecimals={false}
        />
        <Tooltip {...tooltipProps} formatter={(v) => formatCount(Number(v))} />
        <Legend {...legendProps} />
        <Bar dataKey="input" name="Input tokens" stackId="tokens" fill={COLORS.accent} />
        <Bar dataKey="output" name="Output tokens" stackId="tokens" fill={COLORS.second} />
      </BarChart>
    </ChartCard>
  );
}

interface GroupQuery {
  data: UsageReport | undefined;
  error: unknown;
  isPending: boolean;
  isError: boolean;
  refetch: () => unknown;
}

function GroupChart({ id, title, query }: { id: string; title: string; query: GroupQuery }) {
  return (
    <QueryState query={query} label={title.toLowerCase()}>
      {(report) => {
        const rows = [...report.items]
          .sort(
            (a, b) =>
              b.costUsd - a.costUsd || b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens),
          )
          .slice(0, 10)
          .map((item) => ({
            name: item.key,
            cost: item.costUsd,
            tokens: item.inputTokens + item.outputTokens,
          }));
        if (rows.length === 0) {
          return (
            <section className="card" aria-labelledby={`${id}-title`}>
              <h2 id={`${id}-title`}>{title}</h2>
              <Empty>No agent steps this month.</Empty>
            </section>
          );
        }
        return (
          <ChartCard id={id} title={title} height={Math.max(160, rows.length * 36 + 60)}>
            <BarChart data={rows} layout="vertical" margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
              <CartesianGrid stroke={COLORS.grid} strokeDasharray="3 3" horizontal={false} />
              <XAxis
                type="number"
                xAxisId="cost"
                {...axisProps}
                tickFormatter={(v: number) => formatUsd(v)}
              />
              <XAxis
                type="number"
                xAxisId="tokens"
                orientation="top"
                allowDecimals={false}
                {...axisProps}
                tickFormatter={(v: number) => formatCompact(v)}
              />
              <YAxis type="category" dataKey="name" {...axisProps} width={110} />
              <Tooltip
                {...tooltipProps}
                formatter={(v, name) => (name === "Cost" ? formatUsd(Number(v)) : formatCount(Number(v)))}
              />
              <Legend {...legendProps} />
              <Bar xAxisId="cost" dataKey="cost" name="Cost" fill={COLORS.accent} />
              <Bar xAxisId="tokens" dataKey="tokens" name="Tokens" fill={COLORS.second} />
            </BarChart>
          </ChartCard>
        );
      }}
    </QueryState>
  );
}
