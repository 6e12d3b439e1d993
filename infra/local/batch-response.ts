/**
 * Reads a batch handler's `{ batchItemFailures }` as the Lambda event source mappings do: a missing or empty
 * list means every record succeeded; an identifier that is empty or names no record of the batch makes the
 * whole batch a failure.
 */
export type BatchOutcome =
  | { kind: "success" }
  | { kind: "partial"; failed: Set<string> }
  | { kind: "failure"; reason: string };

export function readBatchResponse(result: unknown, identifiers: readonly string[]): BatchOutcome {
  if (result === null || typeof result !== "object") return { kind: "success" };
  const failures = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: "success" };
  if (!Array.isArray(failures)) return { kind: "failure", reason: "batchItemFailures is not a list" };
  if (failures.length === 0) return { kind: "success" };
  const known = new Set(identifiers);
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || id === "" || !known.has(id)) {
      return { kind: "failure", reason: `invalid itemIdentifier ${JSON.stringify(id)}` };
    }
    failed.add(id);
  }
  return { kind: "partial", failed };
}
