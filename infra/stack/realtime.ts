/**
 * The WebSocket API: routes from the manifest, the Lambda authorizer on $connect and one auto-deployed
 * stage whose management endpoint the functions post to.
 */
import { Stack } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from "aws-cdk-lib/aws-apigatewayv2";
import { WebSocketLambdaAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { WebSocketLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { LogGroup } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { type FunctionName, manifest, type WsRoute } from "#infra/manifest";
import { type Functions, pascal } from "./functions.ts";
import { webSocketThrottle } from "./limits.ts";
import { acknowledge } from "./nag.ts";
import type { Settings } from "./settings.ts";

/** Where the client's credential travels: browsers cannot set headers on a WebSocket handshake. */
export const webSocketIdentitySource = "route.request.querystring.token";

export interface RealtimeProps {
  settings: Settings;
  functions: Functions;
}

export class Realtime extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: RealtimeProps) {
    super(scope, id);
    const { settings, functions } = props;

    this.api = new WebSocketApi(this, "Api", {
      apiName: `${Stack.of(this).stackName}-ws`,
      description: "Switchboard live job events",
      routeSelectionExpression: manifest.websocket.routeSelectionExpression,
    });
    acknowledge(
      this.api,
      "AwsSolutions-COG4",
      "Clients authenticate with Switchboard JWTs or API keys, which the Lambda authorizer on $connect verifies; " +
        "a Cognito authorizer could not check API keys.",
    );

    const authorizer = new WebSocketLambdaAuthorizer(
      "Authorizer",
      functions.get(manifest.websocket.authorizer),
      {
        identitySource: [webSocketIdentitySource],
      },
    );

    const integrations = new Map<FunctionName, WebSocketLambdaIntegration>();
    const integrationFor = (name: FunctionName) => {
      let integration = integrations.get(name);
      if (integration === undefined) {
        integration = new WebSocketLambdaIntegration(`${pascal(name)}Integration`, functions.get(name));
        integrations.set(name, integration);
      }
      return integration;
    };

    for (const { route, function: name } of manifest.websocket.routes as readonly WsRoute[]) {
      const wsRoute = this.api.addRoute(route, {
        integration: integrationFor(name),
        ...(route === "$connect" ? { authorizer } : {}),
      });
      if (route !== "$connect") {
        acknowledge(
          wsRoute,
          "AwsSolutions-APIG4",
          `WebSocket APIs authorize once, on $connect; the ${route} route only ever runs on a connection that ` +
            "the authorizer already admitted, and API Gateway allows no authorizer on it.",
        );
      }
    }

    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: settings.logRetention,
      removalPolicy: settings.dataRemovalPolicy,
    });
    this.stage = new WebSocketStage(this, "Stage", {
      webSocketApi: this.api,
      stageName: settings.stage,
      autoDeploy: true,
      throttle: webSocketThrottle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            connectionId: "$context.connectionId",
            eventType: "$context.eventType",
            routeKey: "$context.routeKey",
            status: "$context.status",
            principal: "$context.authorizer.principalId",
            ip: "$context.identity.sourceIp",
            requestTime: "$context.requestTimeEpoch",
            error: "$context.error.message",
            integrationError: "$context.integration.error",
            authorizerError: "$context.authorizer.error",
          }),
        ),
      },
    });
  }

  /** `wss://` URL clients connect to. */
  get url(): string {
    return this.stage.url;
  }
}
