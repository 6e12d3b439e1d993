import dns from "node:dns";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import net, { type LookupFunction } from "node:net";
import { ENV } from "../config.ts";

/**
 * Every outbound request a tenant can aim (the `http_request` tool, custom HTTP tools, provider `baseUrl`s)
 * goes through here. The destination is resolved once, every address is checked, and the connection is
 * pinned to the checked address through the socket's `lookup`, so DNS cannot answer differently between
 * the check and the connect (rebinding). Redirects are followed by hand so each hop is checked again.
 */

export class EgressError extends Error {
  override readonly name = "EgressError";
  constructor(
    readonly code: "EGRESS_DENIED" | "HTTP_TOO_MANY_REDIRECTS" | "HTTP_TIMEOUT" | "HTTP_ERROR",
    message: string,
  ) {
    super(message);
  }
}

const MAX_REDIRECTS = 5;

// ---------------------------------------------------------------------------------------------------------
// Address classification

function ipv4ToInt(address: string): number {
  return address.split(".").reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

const V4_RANGES: [string, number, string][] = [
  ["169.254.169.254", 32, "cloud metadata service"],
  ["0.0.0.0", 8, "unspecified / this network"],
  ["10.0.0.0", 8, "private network"],
  ["100.64.0.0", 10, "carrier-grade NAT"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private network"],
  ["192.0.0.0", 24, "IETF protocol assignments"],
  ["192.168.0.0", 16, "private network"],
  ["198.18.0.0", 15, "benchmarking network"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

function v4Reason(address: string): string | undefined {
  const value = ipv4ToInt(address);
  for (const [base, bits, reason] of V4_RANGES) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((value & mask) >>> 0 === (ipv4ToInt(base) & mask) >>> 0) return reason;
  }
  return undefined;
}

/** The 128-bit value of an IPv6 address (zone ids and an embedded IPv4 tail allowed). */
function ipv6ToBigInt(input: string): bigint {
  let address = input.split("%")[0] ?? "";
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (tail?.[1]) {
    const v4 = ipv4ToInt(tail[1]);
    address = `${address.slice(0, -tail[1].length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = "", rest] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = rest === undefined || rest === "" ? [] : rest.split(":");
  const missing = 8 - left.length - right.length;
  const groups = rest === undefined ? left : [...left, ...Array<string>(missing).fill("0"), ...right];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group || "0", 16)), 0n);
}

function inV6(value: bigint, base: string, bits: number): boolean {
  const shift = BigInt(128 - bits);
  return value >> shift === ipv6ToBigInt(base) >> shift;
}

function v6Reason(address: string): string | undefined {
  const value = ipv6ToBigInt(address);
  if (value === 0n) return "unspecified address";
  if (value === 1n) return "loopback";
  if (inV6(value, "fd00:ec2::254", 128)) return "cloud metadata service";
  if (inV6(value, "::ffff:0:0", 96)) return "IPv4-mapped IPv6";
  if (inV6(value, "::", 96)) return "IPv4-compatible IPv6";
  if (inV6(value, "64:ff9b::", 96)) {
    // NAT64: the address reaches the IPv4 address in its last 32 bits.
    const v4 = Number(value & 0xffffffffn);
    const embedded = [v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join(".");
    const reason = v4Reason(embedded);
    if (reason) return `NAT64 of ${reason}`;
  }
  if (inV6(value, "fe80::", 10)) return "link-local";
  if (inV6(value, "fec0::", 10)) return "site-local";
  if (inV6(value, "fc00::", 7)) return "unique-local";
  if (inV6(value, "ff00::", 8)) return "multicast";
  if (inV6(value, "2001:db8::", 32)) return "documentation range";
  return undefined;
}

/** Why an address may not be reached without an allowlist entry, or undefined when it is public. */
export function blockedReason(address: string): string | undefined {
  const family = net.isIP(address.split("%")[0] ?? "");
  if (family === 4) return v4Reason(address);
  if (family === 6) return v6Reason(address);
  return "not an IP address";
}

// ---------------------------------------------------------------------------------------------------------
// Allowlist and resolution

/** `host:port` entries of SWITCHBOARD_ALLOW_HOSTS, read on every check so tests and operators can change it. */
export function allowedHosts(): Set<string> {
  const raw = process.env[ENV.allowHosts] ?? "";
  return new Set(
    raw
      .split(",")
      .map((entry) => entry.trim().toLowerCase())
      .filter((entry) => entry !== ""),
  );
}

function defaultPort(url: URL): number {
  return url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

function hostKey(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return net.isIP(bare) === 6 ? `[${bare}]:${port}` : `${bare}:${port}`;
}

export interface Destination {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves the URL's host (every address DNS gives) and refuses it when any address is private, loopback,
 * link-local, CGNAT, unique-local, IPv4-mapped or a metadata endpoint, unless `host:port` (or
 * `address:port`) is allowlisted. Returns the address the connection must use.
 */
export async function checkDestination(url: URL): Promise<Destination> {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new EgressError("EGRESS_DENIED", `Refused ${url.protocol} URL: only http and https are allowed`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new EgressError("EGRESS_DENIED", "Refused a URL with credentials in it; send them as a header");
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = defaultPort(url);
  const allow = allowedHosts();
  const hostAllowed = allow.has(hostKey(host, port));
  let addresses: Destination[];
  const literal = net.isIP(host);
  if (literal !== 0) {
    addresses = [{ address: host, family: literal as 4 | 6 }];
  } else {
    try {
      const found = await dns.promises.lookup(host, { all: true, verbatim: true });
      addresses = found.map((entry) => ({ address: entry.address, family: entry.family as 4 | 6 }));
    } catch (error) {
      throw new EgressError(
        "HTTP_ERROR",
        `Could not resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? "lookup failed"}`,
      );
    }
  }
  if (addresses.length === 0) throw new EgressError("HTTP_ERROR", `Could not resolve ${host}: no addresses`);
  for (const { address } of addresses) {
    const reason = blockedReason(address);
    if (reason === undefined || hostAllowed || allow.has(hostKey(address, port))) continue;
    const via = literal !== 0 ? "" : ` (${host} resolves to ${address})`;
    throw new EgressError(
      "EGRESS_DENIED",
      `Refused to connect to ${hostKey(host, port)}${via}: ${reason} addresses are blocked unless listed in ${ENV.allowHosts}`,
    );
  }
  return addresses[0] as Destination;
}

/** A `lookup` that always answers with the address already checked: the socket cannot go anywhere else. */
export function pinnedLookup(destination: Destination): LookupFunction {
  return ((_hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: destination.address, family: destination.family }]);
    else callback(null, destination.address, destination.family);
  }) as unknown as LookupFunction;
}

// ---------------------------------------------------------------------------------------------------------
// Requests

export interface EgressRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Whole request, redirects included, until the response headers arrive. */
  timeoutMs?: number;
  signal?: AbortSignal;
  maxRedirects?: number;
  /** Header names (lower case) that must not follow a redirect to another origin, beyond the usual ones. */
  sensitiveHeaders?: string[];
}

export interface EgressResponse {
  status: number;
  headers: Record<string, string>;
  /** The URL that answered, after redirects. */
  url: string;
  redirects: number;
  /** The body, as it arrives. Read it with `readBody` or iterate it. */
  stream: IncomingMessage;
}

const keepAlive = { keepAlive: true, maxSockets: 64 };
const httpAgent = new http.Agent(keepAlive);
const httpsAgent = new https.Agent(keepAlive);
const CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", "cookie", "x-api-key"];
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function flatHeaders(message: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function sendOnce(
  url: URL,
  destination: Destination,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === "https:";
    const request = (secure ? https : http).request(
      {
        protocol: url.protocol,
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: defaultPort(url),
        path: `${url.pathname}${url.search}`,
        method,
        headers: { ...headers, ...(body === undefined ? {} : { "content-length": String(body.length) }) },
        agent: secure ? httpsAgent : httpAgent,
        lookup: pinnedLookup(destination),
        signal,
      },
      resolve,
    );
    request.on("error", reject);
    request.end(body);
  });
}

function abortError(signal: AbortSignal, timeoutMs: number | undefined): Error {
  const reason = signal.reason as Error | undefined;
  if (reason?.name === "TimeoutError")
    return new EgressError("HTTP_TIMEOUT", `No response within ${timeoutMs} ms`);
  return reason instanceof Error ? reason : new Error("aborted");
}

/**
 * Sends a request through the egress guard, following up to five redirects by hand (each one checked
 * again). Credentials do not follow a redirect to another origin.
 */
export async function egressRequest(options: EgressRequest): Promise<EgressResponse> {
  const signals = [
    options.signal,
    options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs),
  ];
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  const signal =
    live.length === 0
      ? new AbortController().signal
      : live.length === 1
        ? (live[0] as AbortSignal)
        : AbortSignal.any(live);
  const maxRedirects = options.maxRedirects ?? MAX_REDIRECTS;
  const sensitive = new Set([
    ...CREDENTIAL_HEADERS,
    ...(options.sensitiveHeaders ?? []).map((h) => h.toLowerCase()),
  ]);

  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new EgressError("HTTP_ERROR", "The URL is not valid");
  }
  let method = (options.method ?? "GET").toUpperCase();
  let headers: Record<string, string> = {
    "accept-encoding": "identity",
    ...lowerKeys(options.headers ?? {}),
  };
  let body =
    options.body === undefined
      ? undefined
      : Buffer.isBuffer(options.body)
        ? options.body
        : Buffer.from(options.body);

  for (let redirects = 0; ; redirects++) {
    const destination = await checkDestination(url);
    let response: IncomingMessage;
    try {
      response = await sendOnce(url, destination, method, headers, body, signal);
    } catch (error) {
      if (signal.aborted) throw abortError(signal, options.timeoutMs);
      const code = (error as NodeJS.ErrnoException).code;
      throw new EgressError(
        "HTTP_ERROR",
        `Request to ${url.host} failed: ${code ?? (error as Error).message}`,
      );
    }
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (!REDIRECTS.has(status) || location === undefined) {
      return { status, headers: flatHeaders(response), url: url.toString(), redirects, stream: response };
    }
    response.resume();
    if (redirects >= maxRedirects) {
      throw new EgressError(
        "HTTP_TOO_MANY_REDIRECTS",
        `More than ${maxRedirects} redirects, last to ${location}`,
      );
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new EgressError("HTTP_ERROR", "A redirect pointed at an invalid URL");
    }
    if (status === 303 || ((status === 301 || status === 302) && method !== "GET" && method !== "HEAD")) {
      method = method === "HEAD" ? "HEAD" : "GET";
      body = undefined;
      const { "content-type": _type, "content-length": _length, ...rest } = headers;
      headers = rest;
    }
    if (next.origin !== url.origin) {
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !sensitive.has(name)));
    }
    url = next;
  }
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Reads a response body up to `maxBytes`; what is beyond is dropped and reported as truncated. */
export async function readBody(
  stream: IncomingMessage,
  maxBytes: number,
): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (size + chunk.length > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - size));
      size = maxBytes;
      truncated = true;
      stream.destroy();
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { body: Buffer.concat(chunks), truncated };
}
