/**
 * Takes the SDK's logger middleware off a client. With no logger configured (as here) it still copies each
 * request's input and each response's output through the operation's schema to redact its log line, a
 * twentieth of a function's CPU on DynamoDB calls, for a line nobody writes.
 */
export function withoutRequestLog<T extends { middlewareStack: { remove(name: string): boolean } }>(
  client: T,
): T {
  client.middlewareStack.remove("loggerMiddleware");
  return client;
}
