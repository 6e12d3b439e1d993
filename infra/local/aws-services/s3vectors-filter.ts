import { AwsServiceError } from "./protocol.ts";

/**
 * S3 Vectors metadata filters: `{key: value}` (equality), `{key: {$eq|$ne|$gt|$gte|$lt|$lte|$in|$nin|$exists: …}}`,
 * `{$and: [...]}` and `{$or: [...]}`; several keys in one object must all hold. A list-valued metadata field
 * matches `$eq`/`$in` when any element does, and `$ne`/`$nin` when none does. Non-filterable keys never match.
 */

const COMPARISONS = new Set(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"]);
const MAX_DEPTH = 8;

function invalid(message: string): AwsServiceError {
  return new AwsServiceError("ValidationException", `Invalid query filter: ${message}`, 400);
}

type Scalar = string | number | boolean;

const isScalar = (value: unknown): value is Scalar =>
  typeof value === "string" ||
  typeof value === "boolean" ||
  (typeof value === "number" && Number.isFinite(value));

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Throws a ValidationException, as AWS does, for an operator it does not know or an operand of the wrong kind. */
export function validateFilter(filter: unknown, depth = 0): void {
  if (depth > MAX_DEPTH) throw invalid(`nested deeper than ${MAX_DEPTH} levels`);
  if (!isPlainObject(filter) || Object.keys(filter).length === 0)
    throw invalid("a filter must be a non-empty object");
  for (const [key, condition] of Object.entries(filter)) {
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(condition) || condition.length === 0) throw invalid(`${key} takes a non-empty list`);
      for (const part of condition) validateFilter(part, depth + 1);
      continue;
    }
    if (key.startsWith("$")) throw invalid(`unknown operator ${key}`);
    if (isScalar(condition)) continue;
    if (!isPlainObject(condition))
      throw invalid(`the condition on ${key} must be a value or an operator object`);
    for (const [operator, operand] of Object.entries(condition)) {
      if (!COMPARISONS.has(operator)) throw invalid(`unknown operator ${operator} on ${key}`);
      if (operator === "$in" || operator === "$nin") {
        if (!Array.isArray(operand) || operand.length === 0 || !operand.every(isScalar))
          throw invalid(`${operator} on ${key} takes a non-empty list of values`);
      } else if (operator === "$exists") {
        if (typeof operand !== "boolean") throw invalid(`$exists on ${key} takes true or false`);
      } else if (operator === "$eq" || operator === "$ne") {
        if (!isScalar(operand)) throw invalid(`${operator} on ${key} takes a string, number or boolean`);
      } else if (typeof operand !== "number" || !Number.isFinite(operand)) {
        throw invalid(`${operator} on ${key} takes a number`);
      }
    }
  }
}

function compare(operator: string, value: unknown, operand: unknown): boolean {
  const values: unknown[] = Array.isArray(value) ? value : [value];
  switch (operator) {
    case "$eq":
      return values.some((v) => v === operand);
    case "$ne":
      return !values.some((v) => v === operand);
    case "$in":
      return values.some((v) => (operand as unknown[]).includes(v));
    case "$nin":
      return !values.some((v) => (operand as unknown[]).includes(v));
    case "$gt":
      return typeof value === "number" && value > (operand as number);
    case "$gte":
      return typeof value === "number" && value >= (operand as number);
    case "$lt":
      return typeof value === "number" && value < (operand as number);
    case "$lte":
      return typeof value === "number" && value <= (operand as number);
    default:
      return false;
  }
}

/** The filter has been validated. */
export function matchesFilter(
  filter: unknown,
  metadata: Record<string, unknown>,
  nonFilterable: readonly string[],
): boolean {
  for (const [key, condition] of Object.entries(filter as Record<string, unknown>)) {
    if (key === "$and") {
      if (!(condition as unknown[]).every((part) => matchesFilter(part, metadata, nonFilterable)))
        return false;
      continue;
    }
    if (key === "$or") {
      if (!(condition as unknown[]).some((part) => matchesFilter(part, metadata, nonFilterable)))
        return false;
      continue;
    }
    const present = Object.hasOwn(metadata, key) && !nonFilterable.includes(key);
    const value = present ? metadata[key] : undefined;
    const operators = isPlainObject(condition) ? Object.entries(condition) : [["$eq", condition] as const];
    for (const [operator, operand] of operators) {
      if (operator === "$exists") {
        if (present !== operand) return false;
        continue;
      }
      // A missing field satisfies only the negative operators.
      if (!present) {
        if (operator === "$ne" || operator === "$nin") continue;
        return false;
      }
      if (!compare(operator, value, operand)) return false;
    }
  }
  return true;
}
