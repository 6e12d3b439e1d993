import { z } from "zod";

/** Where the API lives. Served next to the dashboard, so one build works for every stage. */
export interface RuntimeConfig {
  apiUrl: string;
  wsUrl: string;
}

const ConfigFile = z.object({ apiUrl: z.string().min(1).optional(), wsUrl: z.string().min(1).optional() });

function sameOrigin(): RuntimeConfig {
  const wsProtocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return { apiUrl: window.location.origin, wsUrl: `${wsProtocol}//${window.location.host}/ws` };
}

export async function loadConfig(): Promise<RuntimeConfig> {
  const fallback = sameOrigin();
  try {
    const response = await fetch("/config.json", { cache: "no-store" });
    if (!response.ok) return fallback;
    const parsed = ConfigFile.safeParse(await response.json());
    if (!parsed.success) return fallback;
    return {
      apiUrl: (parsed.data.apiUrl ?? fallback.apiUrl).replace(/\/+$/, ""),
      wsUrl: parsed.data.wsUrl ?? fallback.wsUrl,
    };
  } catch {
    // No config.json (e.g. `vite dev` without a platform): the API is expected on the same origin.
    return fallback;
  }
}
