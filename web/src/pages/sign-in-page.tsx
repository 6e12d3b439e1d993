import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { Navigate, useLocation } from "react-router";
import { useServices } from "../api/services.tsx";
import { InlineError } from "../components/data-state.tsx";
import { ThemeToggle } from "../components/theme-toggle.tsx";
import { useTokens } from "../hooks/use-session.ts";

export function SignInPage() {
  const { api, tokens } = useServices();
  const signedIn = useTokens() !== null;
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? "/";
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const id = useId();
  const login = useMutation({
    mutationFn: () => api.login(email.trim(), password),
    onSuccess: (response) => tokens.accept(response),
  });

  if (signedIn) return <Navigate to={from} replace />;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    login.mutate();
  };

  return (
    <main className="sign-in">
      <div className="sign-in-theme">
        <ThemeToggle />
      </div>
      <form className="card sign-in-card" onSubmit={submit} aria-labelledby={`${id}-title`}>
        <h1 id={`${id}-title`}>Sign in to Switchboard</h1>
        <label className="field">
          <span>Email</span>
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <InlineError error={login.error} />
        <button type="submit" className="button button-primary" disabled={login.isPending}>
          {login.isPending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
