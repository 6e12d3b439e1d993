import { type ZodType, z } from "zod";
import { ToolError } from "./types.ts";

/**
 * Tool arguments are checked against the tool's JSON schema before the call, with zod's own JSON-schema
 * reader (type, properties, required, enum, items, formats…). Compiled schemas are cached by their text.
 */
const cache = new Map<string, ZodType>();
const CACHE_SIZE = 500;

/** Compiles a schema, or explains why it cannot be used (for the tool's create and update). */
export function compileSchema(schema: Record<string, unknown>): ZodType {
  const text = JSON.stringify(schema);
  const hit = cache.get(text);
  if (hit) return hit;
  const compiled = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  cache.set(text, compiled);
  if (cache.size > CACHE_SIZE) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return compiled;
}

export function schemaProblem(schema: Record<string, unknown>): string | undefined {
  if (schema.type !== undefined && schema.type !== "object")
    return "parameters must describe an object (type: object)";
  try {
    compileSchema(schema);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export function validateArguments(
  toolName: string,
  schema: Record<string, unknown>,
  args: unknown,
): Record<string, unknown> {
  let compiled: ZodType;
  try {
    compiled = compileSchema(schema);
  } catch (error) {
    throw new ToolError(
      "TOOL_ERROR",
      `Tool ${toolName} has a schema that cannot be used: ${(error as Error).message}`,
    );
  }
  const result = compiled.safeParse(args ?? {});
  if (!result.success) {
    const issues = result.error.issues
      .map((issue) => `${issue.path.join(".") || "arguments"}: ${issue.message}`)
      .join("; ");
    throw new ToolError("TOOL_ARGUMENTS_INVALID", `Invalid arguments for ${toolName}: ${issues}`);
  }
  const value = result.data;
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
