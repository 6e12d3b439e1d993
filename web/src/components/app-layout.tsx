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
      <header className="topbar">
        <NavLink to="/jobs" className="brand">
          Switchboard
        </NavLink>
        <nav aria-label="Main" className="nav">
          {me.isPending && <span className="muted small">Loading…</span>}
          {me.isError && <span className="inline-error">Could not load your account</span>}
          <ul>
            {items.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to}>{item.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-end">
          <ConnectionIndicator />
          <ThemeToggle />
          {me.data && (
            <span className="muted small user" title={`Role: ${me.data.role}`}>
              {me.data.email ?? me.data.principalId} · {me.data.role}
            </span>
          )}
          <button type="button" className="button button-ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
