import { createServer } from "node:net";

/**
 * Ports a previous twin in this process used, by component. Handler modules are loaded once per process and may
 * keep SDK clients built from the first twin's endpoints, so a twin restarted in the same process (a test of
 * persistence) tries to come back on the same ports.
 */
const previousPorts = new Map<string, number>();

export function rememberPort(component: string, port: number): void {
  previousPorts.set(component, port);
}

export function previousPort(component: string): number | undefined {
  return previousPorts.get(component);
}

/** Whether `port` can be bound on every interface right now (DynamoDB Local binds all of them). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port that is free now, for a child process that cannot be told to pick one itself. */
export async function freePort(preferred?: number): Promise<number> {
  if (preferred !== undefined && preferred > 0 && (await isPortFree(preferred))) return preferred;
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
