import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { AuthenticationError, authenticate } from "#shared/auth/authenticate";
import { usageKeyValue, usageNamespace } from "#shared/auth/usage-keys";
import { logger, publishMetrics, tracer } from "#shared/observability";

function credentialOf(event: APIGatewayRequestAuthorizerEvent): string | undefined {
  const headers = Object.fromEntries(
    Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const bearer = headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  return bearer ?? headers["x-api-key"] ?? event.queryStringParameters?.token ?? undefined;
}

/**
 * Allows the whole stage rather than the one method, because API Gateway caches the policy per credential
 * and reuses it for every route. Role checks per route happen in the api function, from the manifest.
 */
function stageWide(methodArn: string): string {
  const [arn, stage] = methodArn.split("/");
  return `${arn}/${stage}/*`;
}

/**
 * A refused credential is an explicit Deny, not the documented `throw new Error("Unauthorized")`: API
 * Gateway counts a throw as a function error, so every bad token would page the Errors alarm. The REST
 * API's ACCESS_DENIED gateway response turns the Deny into the contract's 401; a WebSocket `$connect`
 * gets 403.
 */
function deny(methodArn: string): APIGatewayAuthorizerResult {
  return {
    principalId: "anonymous",
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: "Deny", Resource: methodArn }],
    },
  };
}

/** Serves REST (`Authorization: Bearer` or `x-api-key`) and the WebSocket `$connect` (`?token=`). */
export const handler = middy(
  async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const credential = credentialOf(event);
    if (credential === undefined) {
      logger.info("Authentication refused", { reason: "No credentials" });
      return deny(event.methodArn);
    }
    try {
      const context = await authenticate(credential);
      return {
        principalId: context.principalId,
        policyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Action: "execute-api:Invoke",
              Effect: "Allow",
              Resource: event.methodArn.includes("$connect") ? event.methodArn : stageWide(event.methodArn),
            },
          ],
        },
        context: { ...context },
        // API Gateway throttles and counts quota per usage key: an API key has its own, and a tenant's
        // signed-in users share the tenant's, so no caller can spend another tenant's requests.
        usageIdentifierKey: usageKeyValue(
          usageNamespace(),
          context.principalType === "apiKey"
            ? { kind: "apiKey", keyId: context.principalId, role: context.role }
            : { kind: "tenant", tenantId: context.tenantId },
        ),
      };
    } catch (error) {
      if (error instanceof AuthenticationError) {
        logger.info("Authentication refused", { reason: error.message });
        return deny(event.methodArn);
      }
      throw error;
    }
  },
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics())
  .use({
    before: ({ event }) => {
      logger.appendKeys({ requestId: event.requestContext?.requestId });
    },
  });
