import { formatJson } from "../lib/format.ts";

export function JsonView({ value, label }: { value: unknown; label: string }) {
  if (value === undefined) return <p className="muted small">No {label.toLowerCase()}.</p>;
  return <pre className="json">{formatJson(value)}</pre>;
}
