import httpCors, { type Options } from "@middy/http-cors";
import { ENV } from "../config.ts";

/**
 * The stage's allowed browser origins (comma-separated in CORS_ALLOW_ORIGIN, set by the stack and the
 * twin). Read on each response rather than once, so a process that hosts several twins answers each with
 * its own. Unset means no browser origin is allowed.
 */
export function allowedOrigins(): string[] {
  return (process.env[ENV.corsAllowOrigin] ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
}

/**
 * CORS on the api function's own responses. API Gateway only answers preflights (a mock integration) and
 * its own errors (gateway responses); a proxy integration's response carries whatever the function
 * returns, so without this the browser refuses every real answer. `Vary: Origin` always, so a cache never
 * hands one origin's answer to another.
 */
export function cors() {
  // `vary` is an option of the middleware that its type declarations leave out.
  const options: Options & { vary: string } = {
    // An empty answer sets no Access-Control-Allow-Origin at all.
    getOrigin: (incoming: string) => (allowedOrigins().includes(incoming) ? incoming : ""),
    vary: "Origin",
    exposeHeaders: "Retry-After",
  };
  return httpCors(options);
}
