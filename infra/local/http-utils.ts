import type { IncomingMessage, ServerResponse } from "node:http";

export class PayloadTooLargeError extends Error {
  override name = "PayloadTooLargeError";
}

/** Reads a request body, refusing it past `limit` bytes without buffering the rest. */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > limit) {
    request.resume();
    return Promise.reject(
      new PayloadTooLargeError(`Body of ${declared} bytes is over the ${limit} byte limit`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    request.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        reject(new PayloadTooLargeError(`Body is over the ${limit} byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (!refused) resolve(Buffer.concat(chunks));
    });
    request.on("error", reject);
  });
}

export interface HeaderSets {
  /** Last value per name, with the case the client sent, as API Gateway passes them. */
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
}

export function headerSets(request: IncomingMessage): HeaderSets {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const raw = request.rawHeaders;
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] ?? "";
    const value = raw[index + 1] ?? "";
    const existing =
      Object.keys(multiValueHeaders).find((key) => key.toLowerCase() === name.toLowerCase()) ?? name;
    // Own properties even for a name like `__proto__`, as JSON.parse gives a Lambda in AWS.
    Object.defineProperty(headers, existing, { value, enumerable: true, writable: true, configurable: true });
    const values = Object.hasOwn(multiValueHeaders, existing) ? (multiValueHeaders[existing] ?? []) : [];
    Object.defineProperty(multiValueHeaders, existing, {
      value: [...values, value],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { headers, multiValueHeaders };
}

export interface QuerySets {
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
}

/** API Gateway REST gives `null`, not `{}`, when there is no query string. */
export function querySets(url: URL): QuerySets {
  // Maps, then Object.fromEntries: a parameter named `__proto__` becomes an own property, as in AWS, rather
  // than reaching the object's prototype.
  const single = new Map<string, string>();
  const multi = new Map<string, string[]>();
  for (const [name, value] of url.searchParams) {
    single.set(name, value);
    multi.set(name, [...(multi.get(name) ?? []), value]);
  }
  const empty = single.size === 0;
  return {
    queryStringParameters: empty ? null : Object.fromEntries(single),
    multiValueQueryStringParameters: empty ? null : Object.fromEntries(multi),
  };
}

export function sourceIp(request: IncomingMessage): string {
  const address = request.socket.remoteAddress ?? "127.0.0.1";
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/** `24/Nov/2025:05:50:10 +0000`, the request time format of API Gateway's request context. */
export function clfTime(epochMs: number): string {
  const date = new Date(epochMs);
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

export function sendJson(
  response: ServerResponse,
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(statusCode, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  response.end(text);
}

/** The contract's error body. */
export function sendError(
  response: ServerResponse,
  statusCode: number,
  code: string,
  message: string,
  requestId: string,
  headers: Record<string, string> = {},
): void {
  sendJson(response, statusCode, { code, message, requestId }, { "x-amzn-requestid": requestId, ...headers });
}
