import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { AuthContext } from "#events/auth";
import type { Principal } from "#shared/http/api";
import { logger, publishMetrics, tracer } from "#shared/observability";
import { connect, disconnect, handleClientMessage } from "#shared/realtime";
import {
  claimConnectionSlot,
  MAX_CONNECTIONS_PER_TENANT,
  releaseConnectionSlot,
} from "#shared/stores/connection-slots";

/** `$connect`, `$disconnect` and `$default` of the WebSocket API; the authorizer ran before `$connect`. */
export const handler = middy(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const { connectionId, routeKey } = event.requestContext as typeof event.requestContext & {
    routeKey?: string;
  };
  const auth = AuthContext.safeParse(event.requestContext.authorizer ?? {});
  if (connectionId === undefined || !auth.success) {
    logger.warn("WebSocket event without connection or authorizer context", { routeKey });
    return { statusCode: 401, body: "Unauthorized" };
  }
  const { platformAdmin, ...rest } = auth.data;
  const principal: Principal = { ...rest, platformAdmin: platformAdmin === "true" };
  logger.appendKeys({
    connectionId,
    tenantId: principal.tenantId,
    principalId: principal.principalId,
    requestId: event.requestContext.requestId,
  });
  switch (routeKey) {
    case "$connect":
      if (!(await claimConnectionSlot(principal.tenantId, connectionId))) {
        logger.info("Connection refused: the tenant is at its connection limit");
        return {
          statusCode: 429,
          body: `The tenant has ${MAX_CONNECTIONS_PER_TENANT} open connections, the connections-per-tenant limit`,
        };
      }
      await connect(connectionId, principal);
      break;
    case "$disconnect":
      await releaseConnectionSlot(principal.tenantId, connectionId);
      await disconnect(connectionId, principal);
      break;
    default:
      await handleClientMessage(connectionId, principal, event.body);
  }
  return { statusCode: 200, body: "" };
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
