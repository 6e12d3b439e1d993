import { ErrorBody } from "#events/errors";

/** One problem reported by validation; `details` of a 400 holds a list of these. */
export interface Problem {
  nodeId?: string;
  path: string;
  message: string;
}

/** An error response from the API, carrying the contract's error body. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  readonly requestId: string | undefined;

  constructor(
    status: number,
    body: { code: string; message: string; details?: unknown; requestId?: string },
  ) {
    super(body.message);
    this.status = status;
    this.code = body.code;
    this.details = body.details;
    this.requestId = body.requestId;
  }

  static async fromResponse(response: Response): Promise<ApiError> {
    let raw: unknown;
    try {
      raw = await response.json();
    } catch {
      raw = undefined;
    }
    const parsed = ErrorBody.safeParse(raw);
    if (parsed.success) return new ApiError(response.status, parsed.data);
    // Not the contract body: a proxy, a gateway default response, or a route that does not exist yet.
    const message =
      raw && typeof raw === "object" && "message" in raw && typeof raw.message === "string"
        ? raw.message
        : `Request failed with HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    return new ApiError(response.status, { code: `HTTP_${response.status}`, message });
  }

  /** Validation problems in `details`, whether they come as our `{nodeId?, path, message}` or as zod issues. */
  get problems(): Problem[] {
    return toProblems(this.details);
  }
}

export function toProblems(details: unknown): Problem[] {
  const list = Array.isArray(details)
    ? details
    : details && typeof details === "object" && "issues" in details && Array.isArray(details.issues)
      ? details.issues
      : [];
  return list.flatMap((item: unknown): Problem[] => {
    if (!item || typeof item !== "object") return [];
    const record = item as Record<string, unknown>;
    const message = typeof record.message === "string" ? record.message : JSON.stringify(item);
    const rawPath = record.path;
    const path = Array.isArray(rawPath) ? rawPath.join(".") : typeof rawPath === "string" ? rawPath : "";
    const nodeId = typeof record.nodeId === "string" ? record.nodeId : undefined;
    return [nodeId === undefined ? { path, message } : { nodeId, path, message }];
  });
}

/** A message fit to show a person, whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return "Could not reach the server. Check your connection and try again.";
  if (error instanceof Error) return error.message;
  return String(error);
}
