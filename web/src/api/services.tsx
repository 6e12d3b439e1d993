import { QueryClient } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext } from "react";
import { ApiError } from "./api-error.ts";
import type { RuntimeConfig } from "./config.ts";
import { type Api, createApi } from "./endpoints.ts";
import { HttpClient } from "./http-client.ts";
import { LiveSocket } from "./live-socket.ts";
import { TokenStore } from "./token-store.ts";

export interface Services {
  config: RuntimeConfig;
  tokens: TokenStore;
  api: Api;
  socket: LiveSocket;
  queryClient: QueryClient;
}

export function createServices(config: RuntimeConfig): Services {
  const tokens = new TokenStore(config.apiUrl);
  const socket = new LiveSocket(config.wsUrl, tokens);
  const queryClient = new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // A 4xx will not change on its own (and a 404 is how a missing route answers), so show it at once.
        retry: (failures, error) => !(error instanceof ApiError && error.status < 500) && failures < 2,
      },
    },
  });
  // Signing out anywhere (button, rejected refresh, a 401) drops live updates and cached tenant data.
  tokens.subscribe(() => {
    if (tokens.tokens) {
      socket.resume();
    } else {
      socket.stop();
      queryClient.clear();
    }
  });
  return { config, tokens, api: createApi(new HttpClient(config.apiUrl, tokens)), socket, queryClient };
}

const ServicesContext = createContext<Services | null>(null);

export function ServicesProvider({ services, children }: { services: Services; children: ReactNode }) {
  return <ServicesContext value={services}>{children}</ServicesContext>;
}

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error("useServices needs a ServicesProvider");
  return services;
}
