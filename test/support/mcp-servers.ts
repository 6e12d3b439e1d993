import { type ChildProcess, spawn } from "node:child_process";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

/**
 * MCP servers for tests: the reference `@modelcontextprotocol/server-everything` in its streamableHttp
 * mode, run as its own process on a loopback port, and a pass-through proxy in front of it that a test
 * can make hang or fail.
 */

const EVERYTHING = fileURLToPath(
  new URL("../../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url),
);
const LOOPBACK_ONLY = fileURLToPath(new URL("./loopback-listen.mjs", import.meta.url));

/** A port nothing listens on (taken from the OS, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface EverythingServer {
  port: number;
  /** The Streamable HTTP endpoint. */
  url: string;
  hostPort: string;
  stop(): Promise<void>;
}

export async function startEverythingServer(): Promise<EverythingServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", LOOPBACK_ONLY, EVERYTHING, "streamableHttp"],
    {
      // Only what it needs: the server has a tool that returns its whole environment.
      env: { PATH: process.env.PATH ?? "", PORT: String(port) },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`server-everything did not start: ${output}`)), 20_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes("listening on port")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server-everything exited with ${code}: ${output}`));
    });
  });
  child.stderr?.resume();
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    hostPort: `127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export type ProxyMode = "pass" | "hang" | "fail";

export interface McpProxy {
  port: number;
  url: string;
  hostPort: string;
  /** `pass` forwards, `hang` accepts and never answers, `fail` answers 503. */
  mode: ProxyMode;
  /** Requests seen, whatever the mode. */
  requests: number;
  /** The `authorization` header of each request seen. */
  authorizations: (string | undefined)[];
  stop(): Promise<void>;
}

export async function startMcpProxy(upstreamPort: number): Promise<McpProxy> {
  const hanging = new Set<import("node:http").ServerResponse>();
  const state = { mode: "pass" as ProxyMode, requests: 0 };
  const authorizations: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    state.requests++;
    authorizations.push(req.headers.authorization);
    if (state.mode === "hang") {
      hanging.add(res);
      return;
    }
    if (state.mode === "fail") {
      res.writeHead(503, { "content-type": "text/plain" }).end("unavailable");
      return;
    }
    const upstream = httpRequest(
      { host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    hostPort: `127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(value: ProxyMode) {
      state.mode = value;
    },
    get requests() {
      return state.requests;
    },
    authorizations,
    stop: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
