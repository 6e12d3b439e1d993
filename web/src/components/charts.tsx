import type { ReactNode } from "react";
import { ResponsiveContainer } from "recharts";

/**
 * Chart colours are the theme's own variables, so a chart follows light and dark mode as the rest of the
 * page does (SVG presentation attributes accept `var()`).
 */
export const COLORS = {
  succeeded: "var(--chart-succeeded)",
  failed: "var(--chart-failed)",
  cancelled: "var(--chart-cancelled)",
  active: "var(--chart-active)",
  accent: "var(--chart-accent)",
  second: "var(--chart-second)",
  budget: "var(--chart-budget)",
  grid: "var(--border)",
  axis: "var(--muted)",
} as const;

export const axisProps = {
  stroke: COLORS.grid,
  tick: { fill: COLORS.axis, fontSize: 12 },
  tickLine: false,
} as const;

export const tooltipProps = {
  contentStyle: {
    background: "var(--surface)",
    border: "1px solid var(--border)",
    borderRadius: 6,
    color: "var(--text)",
  },
  labelStyle: { color: "var(--text)", fontWeight: 600 },
  itemStyle: { color: "var(--text)" },
  cursor: { fill: "var(--surface-2)" },
} as const;

export const legendProps = {
  wrapperStyle: { fontSize: 12 },
  // In the order the series are drawn (succeeded first), not alphabetical.
  itemSorter: null,
  // The legend colours its text like the series; the label reads better in the page's own text colour.
  formatter: (value: unknown) => <span style={{ color: "var(--text)" }}>{String(value)}</span>,
} as const;

/** A titled card holding one chart, sized by its container; `summary` states the figures in words too. */
export function ChartCard({
  id,
  title,
  summary,
  height = 240,
  wide = false,
  children,
}: {
  id: string;
  title: string;
  summary?: ReactNode;
  height?: number;
  wide?: boolean;
  children: ReactNode;
}) {
  return (
    <section className={`card chart-card${wide ? " card-wide" : ""}`} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {summary && <p className="muted small chart-summary">{summary}</p>}
      <div className="chart" style={{ height }}>
        <ResponsiveContainer width="100%" height="100%">
          {children as React.ReactElement}
        </ResponsiveContainer>
      </div>
    </section>
  );
}
