import { useCallback, useSyncExternalStore } from "react";

export type Theme = "light" | "dark";

const STORAGE_KEY = "switchboard.theme";
const query = () => window.matchMedia("(prefers-color-scheme: dark)");

function stored(): Theme | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === "light" || value === "dark" ? value : null;
  } catch {
    return null;
  }
}

/** The person's choice if they made one, else the system's. */
function resolve(): Theme {
  return stored() ?? (query().matches ? "dark" : "light");
}

function apply(): void {
  const theme = resolve();
  document.documentElement.dataset.theme = theme;
  for (const listener of listeners) listener();
}

const listeners = new Set<() => void>();

/** Runs before the first render, so the page never flashes the wrong theme. */
export function applyStoredTheme(): void {
  apply();
  query().addEventListener("change", apply);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useTheme(): { theme: Theme; toggle: () => void } {
  const theme = useSyncExternalStore(subscribe, resolve);
  const toggle = useCallback(() => {
    const next: Theme = resolve() === "dark" ? "light" : "dark";
    try {
      // Choosing the system's own theme goes back to following the system.
      if (next === (query().matches ? "dark" : "light")) localStorage.removeItem(STORAGE_KEY);
      else localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // Without storage the choice lasts for this page only.
      document.documentElement.dataset.theme = next;
    }
    apply();
  }, []);
  return { theme, toggle };
}
