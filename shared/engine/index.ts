/**
 * The engine's public surface. The QuickJS sandbox is not re-exported: import it from
 * `#shared/engine/sandbox` where code nodes run, so other bundles stay free of its WebAssembly build.
 */
export {
  buildContext,
  type DecideOptions,
  decide,
  getNode,
  isTerminalJob,
  isTerminalStep,
  MAX_DELAY_SECONDS,
  MAX_FOREACH_ITEMS,
  MAX_RETRY_DELAY_SECONDS,
  retryDelaySeconds,
} from "#shared/engine/engine";
export {
  compileExpression,
  type ExpressionContext,
  ExpressionError,
  evaluate,
  hasExpression,
  isExpression,
  isTruthy,
  resolveTemplate,
  validateExpression,
  validateTemplate,
} from "#shared/engine/expressions";
export * from "#shared/engine/types";
export {
  graphProblems,
  type ValidateOptions,
  validateWorkflow,
  type WorkflowProblem,
} from "#shared/engine/validate";
