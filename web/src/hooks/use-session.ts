import { useQuery } from "@tanstack/react-query";
import { useCallback, useSyncExternalStore } from "react";
import { useServices } from "../api/services.tsx";

export function useTokens() {
  const { tokens } = useServices();
  return useSyncExternalStore(tokens.subscribe, tokens.snapshot);
}

/** Who is signed in: role, tenant and email, from GET /v1/me. */
export function useMe() {
  const { api } = useServices();
  const signedIn = useTokens() !== null;
  return useQuery({ queryKey: ["me"], queryFn: api.me, enabled: signedIn, staleTime: 5 * 60_000 });
}

export function useSignOut(): () => void {
  const { tokens } = useServices();
  return useCallback(() => tokens.clear(), [tokens]);
}
