/**
 * The regional REST API: one resource per manifest path, a proxy method per route, the REQUEST authorizer
 * on every non-public route, the usage plans whose keys give each tenant and each API key its own request
 * bucket, and gateway responses in the contract's error shape.
 */
import { Aws, Duration, Fn, RemovalPolicy, Stack } from "aws-cdk-lib";
import {
  AccessLogFormat,
  ApiKeySourceType,
  AuthorizationType,
  type CfnAuthorizer,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  Period,
  RequestAuthorizer,
  ResponseType,
  RestApi,
} from "aws-cdk-lib/aws-apigateway";
import { LogGroup } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { type FunctionName, type HttpRoute, manifest } from "#infra/manifest";
import { type Functions, pascal } from "./functions.ts";
import { corsPreflight, gatewayCorsHeaders, gatewayErrors } from "./gateway-responses.ts";
import { restStageThrottle, USAGE_PLANS, usagePlanLimits, usagePlanName } from "./limits.ts";
import { acknowledge } from "./nag.ts";
import type { Settings } from "./settings.ts";

/**
 * Authorizer results are not cached. A REQUEST authorizer's cache key is made of its identity sources and
 * API Gateway answers 401 without calling the authorizer when any of them is missing; callers send either
 * `Authorization` or `x-api-key`, never both, so no identity source list fits both kinds of caller. With no
 * identity sources, caching must be off (TTL 0), and the upside is that a revoked key or a disabled user
 * is refused on the very next request.
 */
export const authorizerCacheTtl = Duration.seconds(0);

export const errorTemplate = (code: string, message?: string) =>
  `{"code":"${code}","message":${message === undefined ? "$context.error.messageString" : JSON.stringify(message)},"requestId":"$context.requestId"}`;

export interface ApiProps {
  settings: Settings;
  functions: Functions;
  /** The dashboard's origin (`https://…`), the one browser origin allowed to call the API. */
  allowedOrigin: string;
}

export class Api extends Construct {
  readonly restApi: RestApi;
  readonly authorizer: RequestAuthorizer;
  readonly accessLogs: LogGroup;
  /** Base URL without a trailing slash: `https://{id}.execute-api.{region}.amazonaws.com/{stage}`. */
  readonly url: string;
  /** Names the usage plans (`<namespace>-<plan>`) and the usage keys the api function creates in them. */
  readonly usageNamespace: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { settings, functions, allowedOrigin } = props;

    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: settings.logRetention,
      removalPolicy: settings.dataRemovalPolicy,
    });

    const methods = [...new Set(manifest.http.routes.map((r) => r.method))];
    const api = new RestApi(this, "RestApi", {
      restApiName: `${Stack.of(this).stackName}-rest`,
      description: "Switchboard REST API",
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      apiKeySourceType: ApiKeySourceType.AUTHORIZER,
      // Access logging needs the account's API Gateway logging role; kept on delete because it is an
      // account-wide setting other stages (and the other stage's stack) rely on.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: settings.stage,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        // Full request/response logging would write bearer tokens and bodies to CloudWatch.
        dataTraceEnabled: false,
        throttlingRateLimit: restStageThrottle.rateLimit,
        throttlingBurstLimit: restStageThrottle.burstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            ip: "$context.identity.sourceIp",
            method: "$context.httpMethod",
            path: "$context.path",
            resourcePath: "$context.resourcePath",
            status: "$context.status",
            responseLength: "$context.responseLength",
            latencyMs: "$context.responseLatency",
            integrationLatencyMs: "$context.integration.latency",
            principal: "$context.authorizer.principalId",
            apiKeyId: "$context.identity.apiKeyId",
            error: "$context.error.message",
            authorizerError: "$context.authorizer.error",
            wafStatus: "$context.waf.status",
            requestTime: "$context.requestTimeEpoch",
          }),
        ),
      },
      defaultCorsPreflightOptions: {
        allowOrigins: [allowedOrigin],
        allowMethods: methods,
        allowHeaders: [...corsPreflight.allowHeaders],
        maxAge: Duration.seconds(corsPreflight.maxAgeSeconds),
      },
    });
    this.restApi = api;
    this.url = Fn.join("", [
      "https://",
      api.restApiId,
      ".execute-api.",
      Aws.REGION,
      ".",
      Aws.URL_SUFFIX,
      "/",
      settings.stage,
    ]);

    const authorizerFn = functions.get(manifest.http.authorizer);
    this.authorizer = new RequestAuthorizer(this, "Authorizer", {
      handler: authorizerFn,
      identitySources: [],
      resultsCacheTtl: authorizerCacheTtl,
    });
    // An empty identity source string is not the same as none: leave the property out.
    (this.authorizer.node.defaultChild as CfnAuthorizer).addPropertyDeletionOverride("IdentitySource");

    const integrations = new Map<FunctionName, LambdaIntegration>();
    const integrationFor = (name: FunctionName) => {
      let integration = integrations.get(name);
      if (integration === undefined) {
        // One permission per function for the whole API instead of one per method: a function's resource
        // policy is capped at 20 KB, which a few dozen per-method statements would exhaust.
        integration = new LambdaIntegration(functions.get(name), {
          proxy: true,
          scopePermissionToMethod: false,
        });
        integrations.set(name, integration);
      }
      return integration;
    };

    for (const route of manifest.http.routes as readonly HttpRoute[]) {
      const resource = api.root.resourceForPath(route.path);
      const method = resource.addMethod(
        route.method,
        integrationFor(route.function),
        route.auth === "public"
          ? { operationName: route.id, authorizationType: AuthorizationType.NONE }
          : {
              operationName: route.id,
              authorizer: this.authorizer,
              authorizationType: AuthorizationType.CUSTOM,
              // With an AUTHORIZER key source, this is what puts the call under the role's usage plan.
              apiKeyRequired: true,
            },
      );
      if (route.auth === "public") {
        acknowledge(
          method,
          "AwsSolutions-APIG4",
          `${route.method} ${route.path} (${route.id}) is public in the API contract: probes, the OpenAPI ` +
            "document and the token exchanges that hand out credentials must work without them.",
        );
      }
    }

    acknowledge(
      api,
      "AwsSolutions-COG4",
      "Callers present Switchboard JWTs or API keys (sb_…); the REQUEST authorizer verifies both, which a " +
        "Cognito user pool authorizer cannot do for API keys.",
    );
    acknowledge(
      api,
      "AwsSolutions-APIG2",
      "Bodies and parameters are validated by the zod schemas in events/ inside the api function, the one " +
        "definition shared with the local twin and the OpenAPI document; a second JSON-schema copy at the " +
        "gateway would drift from it and answer 400s in a different shape.",
    );
    const cloudWatchRole = api.node.tryFindChild("CloudWatchRole");
    if (cloudWatchRole !== undefined) {
      acknowledge(
        cloudWatchRole,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "This is API Gateway's account-wide logging role: it must write the execution and access logs of every " +
          "API in the region, and AWS maintains this policy for exactly that role.",
      );
    }

    // The plans hold no key at deploy: the api function gives each tenant and each API key an API Gateway
    // key of its own when it creates them (shared/auth/usage-buckets.ts), and API Gateway keeps a token
    // bucket and a quota per key, so no tenant spends another's requests. The stage throttle above stays
    // the outer limit of them all.
    this.usageNamespace = Stack.of(this).stackName;
    for (const plan of USAGE_PLANS) {
      const limits = usagePlanLimits[plan];
      api.addUsagePlan(`${pascal(plan)}UsagePlan`, {
        name: usagePlanName(this.usageNamespace, plan),
        description:
          plan === "tenant"
            ? "One bucket per tenant, shared by its signed-in users"
            : `One bucket per API key with the ${plan} role`,
        throttle: { rateLimit: limits.rateLimit, burstLimit: limits.burstLimit },
        quota: { limit: limits.quota.limit, period: Period[limits.quota.period] },
        apiStages: [{ api, stage: api.deploymentStage }],
      });
    }

    const cors = Object.fromEntries(
      Object.entries(gatewayCorsHeaders([allowedOrigin])).map(([name, value]) => [name, `'${value}'`]),
    );
    for (const error of gatewayErrors) {
      const headers = Object.fromEntries(
        Object.entries(error.headers ?? {}).map(([name, value]) => [name, `'${value}'`]),
      );
      api.addGatewayResponse(pascal(error.type.toLowerCase()), {
        type: ResponseType.of(error.type),
        statusCode: error.statusCode,
        responseHeaders: { ...cors, ...headers },
        templates: { "application/json": errorTemplate(error.code, error.message) },
      });
    }
  }
}
