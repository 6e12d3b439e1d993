/** Money, token counts and chart labels, for the overview and usage pages. */

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const smallUsd = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  maximumSignificantDigits: 3,
});
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat("en-US");

/** Cents for everyday sums; three significant digits below a cent, where agent calls often are. */
export function formatUsd(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "—";
  return value !== 0 && Math.abs(value) < 0.01 ? smallUsd.format(value) : usd.format(value);
}

export function formatCount(value: number | undefined): string {
  return value === undefined ? "—" : whole.format(value);
}

export function formatCompact(value: number | undefined): string {
  return value === undefined ? "—" : compact.format(value);
}

const hourLabel = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayLabel = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** A bucket's axis label: its local hour, or its day. */
export function bucketLabel(startIso: string, bucket: "hour" | "day"): string {
  const date = new Date(startIso);
  return bucket === "hour" ? hourLabel.format(date) : dayLabel.format(date);
}

/** A UTC day (`YYYY-MM-DD`, as usage reports use) as a short label. */
export function dayKeyLabel(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(date.getTime())
    ? day
    : dayLabel.format(new Date(date.getTime() + date.getTimezoneOffset() * 60_000));
}

export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function firstOfMonth(at: Date): string {
  return `${at.toISOString().slice(0, 7)}-01`;
}

/** Every UTC day from `from` to `to`, inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let at = Date.parse(`${from}T00:00:00Z`); at <= Date.parse(`${to}T00:00:00Z`); at += 86_400_000) {
    days.push(new Date(at).toISOString().slice(0, 10));
    if (days.length > 400) break;
  }
  return days;
}
