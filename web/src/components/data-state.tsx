import type { ReactNode } from "react";
import { ApiError, errorMessage } from "../api/api-error.ts";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorState({
  error,
  title,
  onRetry,
}: {
  error: unknown;
  title?: string;
  onRetry?: () => void;
}) {
  const api = error instanceof ApiError ? error : undefined;
  return (
    <div className="state state-error" role="alert">
      <p className="state-title">{title ?? "Something went wrong"}</p>
      <p>{errorMessage(error)}</p>
      {api && (
        <p className="muted small">
          {api.code}
          {api.requestId ? ` · request ${api.requestId}` : ""}
        </p>
      )}
      {onRetry && (
        <button type="button" className="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children, action }: { children: ReactNode; action?: ReactNode }) {
  return (
    <div className="state state-empty">
      <p>{children}</p>
      {action}
    </div>
  );
}

interface QueryLike<T> {
  data: T | undefined;
  error: unknown;
  isPending: boolean;
  isError: boolean;
  refetch: () => unknown;
}

/** Loading and error for one query, then the children with its data. */
export function QueryState<T>({
  query,
  label,
  children,
}: {
  query: QueryLike<T>;
  label: string;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading label={`Loading ${label}…`} />;
  if (query.isError || query.data === undefined) {
    return (
      <ErrorState
        error={query.error}
        title={`Could not load ${label}`}
        onRetry={() => void query.refetch()}
      />
    );
  }
  return <>{children(query.data)}</>;
}

/** An inline error next to a form or button, for mutations. */
export function InlineError({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="inline-error" role="alert">
      {errorMessage(error)}
    </p>
  );
}
