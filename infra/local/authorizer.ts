import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import type { FunctionName } from "#infra/manifest";
import type { FunctionRunner } from "./functions.ts";
import type { Logger } from "./log.ts";

export type AuthorizerContext = Record<string, string>;

export type AuthorizerDecision =
  | { kind: "allow"; principalId: string; context: AuthorizerContext; apiKey?: string }
  /** The authorizer threw `Error("Unauthorized")`: API Gateway answers 401. */
  | { kind: "unauthorized" }
  /** An explicit Deny, or no Allow for this method ARN: 403. */
  | { kind: "forbidden" }
  /** The authorizer crashed or returned something API Gateway cannot use: 500. */
  | { kind: "error"; message: string };

function asList(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

/** IAM-style wildcard match: `*` any run of characters, `?` one character. */
function arnMatches(pattern: string, arn: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(arn);
}

function actionMatches(action: string): boolean {
  return action === "*" || action === "execute-api:*" || action === "execute-api:Invoke";
}

/** Evaluates the policy as IAM does for `execute-api:Invoke` on one method ARN: an explicit Deny wins. */
export function policyAllows(policy: unknown, methodArn: string): boolean {
  const statements = (policy as { Statement?: unknown } | undefined)?.Statement;
  const list = Array.isArray(statements) ? statements : statements ? [statements] : [];
  let allowed = false;
  for (const statement of list as Array<Record<string, unknown>>) {
    if (!asList(statement.Action).some(actionMatches)) continue;
    if (!asList(statement.Resource).some((resource) => arnMatches(resource, methodArn))) continue;
    if (statement.Effect === "Deny") return false;
    if (statement.Effect === "Allow") allowed = true;
  }
  return allowed;
}

/**
 * Runs the Lambda authorizer on a REQUEST event and reads its answer as API Gateway does. Context values must be
 * strings, numbers or booleans, and reach the integration as strings.
 */
export async function runAuthorizer(options: {
  functions: FunctionRunner;
  name: FunctionName;
  event: APIGatewayRequestAuthorizerEvent;
  log: Logger;
}): Promise<AuthorizerDecision> {
  const { functions, name, event, log } = options;
  let result: APIGatewayAuthorizerResult;
  try {
    result = await functions.invoke<APIGatewayAuthorizerResult>(name, event);
  } catch (error) {
    if (error instanceof Error && error.message === "Unauthorized") return { kind: "unauthorized" };
    log.error(`authorizer ${name} failed`, error);
    return { kind: "error", message: "Authorizer failed" };
  }
  if (
    result === null ||
    typeof result !== "object" ||
    typeof result.principalId !== "string" ||
    !result.policyDocument
  ) {
    log.error(`authorizer ${name} returned no principalId or policyDocument`);
    return { kind: "error", message: "Authorizer returned an invalid response" };
  }
  if (!policyAllows(result.policyDocument, event.methodArn)) return { kind: "forbidden" };
  const context: AuthorizerContext = {};
  for (const [key, value] of Object.entries(result.context ?? {})) {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      log.error(
        `authorizer ${name} put a ${typeof value} in context.${key}; API Gateway allows only string, number and boolean`,
      );
      return { kind: "error", message: "Authorizer returned an invalid context" };
    }
    context[key] = String(value);
  }
  return {
    kind: "allow",
    principalId: result.principalId,
    context,
    ...(result.usageIdentifierKey ? { apiKey: result.usageIdentifierKey } : {}),
  };
}
