/**
 * What every tool is: a name, a description and a JSON schema the model sees, and a function of validated
 * arguments. Tools run inside a step, for an agent's tool call or a `tool` node.
 */

export interface ToolContext {
  tenantId: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  attempt: number;
  /** `jobId:nodeId:item:attempt` (plus the call's place in an agent's loop): sent as `Idempotency-Key`. */
  idempotencyKey: string;
  /** The step's deadline. */
  signal?: AbortSignal;
  /** Milliseconds left before the step's deadline. */
  remainingMs(): number;
  /** Decrypts a stored secret for this step. */
  secret(name: string): Promise<string>;
  /** Records a plaintext the step handled, so it can be scrubbed from outputs and errors. */
  handled(secretValue: string): void;
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON schema of the arguments. */
  parameters: Record<string, unknown>;
  builtIn: boolean;
  /** How a workflow names it when that differs from `name`: `mcp:<server>/<tool>`. */
  reference?: string;
  run(args: Record<string, unknown>, context: ToolContext): Promise<unknown>;
}

export type ToolErrorCode =
  | "UNKNOWN_TOOL"
  | "TOOL_ARGUMENTS_INVALID"
  | "TOOL_ERROR"
  | "TOOL_TIMEOUT"
  | "EGRESS_DENIED"
  | "HTTP_ERROR"
  | "HTTP_TIMEOUT"
  | "HTTP_TOO_MANY_REDIRECTS"
  | "SECRET_NOT_FOUND"
  | "CODE_ERROR"
  | "CODE_TIMEOUT"
  | "CODE_MEMORY"
  | "MCP_TOOL_ERROR"
  | "MCP_TIMEOUT"
  | "MCP_UNREACHABLE"
  | "MCP_ERROR"
  | "CIRCUIT_OPEN";

/** A tool's failure: it goes back to the model as an error result, or fails a `tool` node's attempt. */
export class ToolError extends Error {
  override readonly name = "ToolError";
  constructor(
    readonly code: ToolErrorCode,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}
