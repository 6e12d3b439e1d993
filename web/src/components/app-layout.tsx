import { NavLink, Outlet } from "react-router";
import { useMe, useSignOut } from "../hooks/use-session.ts";
import { navFor } from "../lib/nav.ts";
import { ConnectionIndicator } from "./connection-indicator.tsx";
import { ThemeToggle } from "./theme-toggle.tsx";

export function AppLayout() {
  const me = useMe();
  const signOut = useSignOut();
  const items = navFor(me.data?.role);
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <NavLink to="/overview" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Switchboard
        </NavLink>
        <nav aria-label="Main" className="nav">
          {me.isPending && <p className="muted small">Loading…</p>}
          {me.isError && (
            <p className="inline-error small" role="alert">
              Could not load your account.{" "}
              <button type="button" className="link-button" onClick={() => void me.refetch()}>
                Retry
              </button>
            </p>
          )}
          <ul>
            {items.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to}>{item.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="sidebar-footer">
          <ConnectionIndicator />
          {me.data && (
            <p className="small user" title={me.data.email ?? me.data.principalId}>
              <span className="user-name">{me.data.email ?? me.data.principalId}</span>
              <span className="muted">{me.data.role}</span>
            </p>
          )}
          <div className="stack-inline">
            <ThemeToggle />
            <button type="button" className="button button-ghost" onClick={signOut}>
              Sign out
            </button>
          </div>
        </div>
      </aside>
      <main id="main" className="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
