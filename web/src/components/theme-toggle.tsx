import { useTheme } from "../hooks/use-theme.ts";

export function ThemeToggle() {
  const { theme, toggle } = useTheme();
  const next = theme === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      className="button button-ghost"
      onClick={toggle}
      aria-label={`Switch to ${next} theme`}
    >
      {theme === "dark" ? "☀ Light" : "☾ Dark"}
    </button>
  );
}
