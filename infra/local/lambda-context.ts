import { randomBytes, randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import type { FunctionSpec } from "#infra/manifest";

export const ACCOUNT_ID = "000000000000";

/** The deployed name a function would have; the stack may prefix differently, nothing may depend on it. */
export function deployedName(name: string): string {
  return `switchboard-${name}`;
}

/** A Lambda `Context` as the Node.js runtime builds it, with the deadline taken from the manifest. */
export function createLambdaContext(name: string, spec: FunctionSpec, region: string): Context {
  const functionName = deployedName(name);
  const deadline = Date.now() + spec.timeoutSeconds * 1000;
  const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
  const noop = () => undefined;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${region}:${ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: String(spec.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString("hex")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: noop,
    fail: noop,
    succeed: noop,
  };
}
