import type { FormEvent, ReactNode } from "react";
import { InlineError } from "./data-state.tsx";

/** A collapsible create form, so lists stay at the top of admin pages. */
export function CreatePanel({
  title,
  onSubmit,
  pending,
  error,
  submitLabel = "Create",
  children,
  open,
  onToggle,
}: {
  title: string;
  onSubmit: () => void;
  pending: boolean;
  error: unknown;
  submitLabel?: string;
  children: ReactNode;
  open?: boolean;
  onToggle?: (open: boolean) => void;
}) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <details className="card create-panel" open={open} onToggle={(e) => onToggle?.(e.currentTarget.open)}>
      <summary>{title}</summary>
      <form className="form-grid" onSubmit={submit}>
        {children}
        <InlineError error={error} />
        <div className="actions form-grid-full">
          <button type="submit" className="button button-primary" disabled={pending}>
            {pending ? "Saving…" : submitLabel}
          </button>
        </div>
      </form>
    </details>
  );
}
