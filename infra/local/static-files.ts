import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Dashboard not built</h1>
<p>Run <code>npm run build:web</code>, then reload this page. The API is already up at <code>/v1</code>.</p>
</body></html>
`;

async function fileAt(path: string): Promise<{ size: number } | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? { size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The dashboard's build, as CloudFront serves it from S3: files as they are, and `index.html` for any other
 * path so the client-side router can take it. `/config.json` is generated, as the stack writes it at deploy.
 */
export function createStaticFiles(options: {
  root: string;
  config: (request: IncomingMessage) => unknown;
  enabled: boolean;
}) {
  const root = normalize(options.root);

  function send(
    request: IncomingMessage,
    response: ServerResponse,
    path: string,
    size: number,
    cache: string,
  ): void {
    response.writeHead(200, {
      "content-type": TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
      "content-length": String(size),
      "cache-control": cache,
    });
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    createReadStream(path).pipe(response);
  }

  return async function handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === "/config.json") {
      const body = JSON.stringify(options.config(request));
      response.writeHead(200, {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "cache-control": "no-cache",
      });
      response.end(request.method === "HEAD" ? undefined : body);
      return;
    }
    if (!options.enabled) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      response.end("Not found");
      return;
    }
    const index = join(root, "index.html");
    const indexFile = await fileAt(index);
    if (!indexFile) {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" });
      response.end(request.method === "HEAD" ? undefined : NOT_BUILT);
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      pathname = "/";
    }
    const candidate = normalize(join(root, pathname));
    if (candidate.startsWith(root + sep) && !pathname.endsWith("/")) {
      const file = await fileAt(candidate);
      if (file) {
        const immutable = pathname.startsWith("/assets/");
        return send(
          request,
          response,
          candidate,
          file.size,
          immutable ? "public, max-age=31536000, immutable" : "no-cache",
        );
      }
      if (extname(pathname) !== "") {
        response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        response.end("Not found");
        return;
      }
    }
    send(request, response, index, indexFile.size, "no-cache");
  };
}
