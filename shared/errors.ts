import type { ErrorCode } from "#events/errors";

/**
 * An error that maps to an HTTP response with the contract's body. Anything else that reaches the error
 * mapper is a 500 whose details stay in the logs.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | (string & {}),
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const badRequest = (message: string, details?: unknown) =>
  new AppError(400, "BAD_REQUEST", message, details);
export const validationFailed = (message: string, details?: unknown) =>
  new AppError(400, "VALIDATION_FAILED", message, details);
export const unauthorized = (message = "Missing or invalid credentials") =>
  new AppError(401, "UNAUTHORIZED", message);
export const forbidden = (message = "Your role does not allow this action") =>
  new AppError(403, "FORBIDDEN", message);
export const notFound = (what: string, id?: string) =>
  new AppError(404, "NOT_FOUND", id === undefined ? `${what} not found` : `${what} ${id} not found`);
export const conflict = (message: string, details?: unknown) =>
  new AppError(409, "CONFLICT", message, details);
export const payloadTooLarge = (message: string) => new AppError(413, "PAYLOAD_TOO_LARGE", message);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new AppError(429, "TOO_MANY_REQUESTS", message, undefined, { "Retry-After": String(retryAfterSeconds) });

export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

export function isTransactionConflict(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== "TransactionCanceledException") return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((r) => r.Code === "ConditionalCheckFailed" || r.Code === "TransactionConflict");
}
