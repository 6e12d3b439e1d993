import { useConnectionState } from "../hooks/use-connection.ts";

const TEXT = { connecting: "Connecting…", open: "Live", reconnecting: "Reconnecting…" } as const;

export function ConnectionIndicator() {
  const state = useConnectionState();
  // Pages without live data hold no subscription, and then there is nothing to report.
  if (state === "idle") return null;
  return (
    <span className={`connection connection-${state}`} role="status" title="Live updates">
      <span className="dot" aria-hidden="true" />
      {TEXT[state]}
    </span>
  );
}
