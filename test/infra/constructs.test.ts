import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Match } from "aws-cdk-lib/assertions";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FunctionName, type HttpRoute, manifest, type QueueSpec } from "#infra/manifest";
import { type Access, functionAccess, scheduleEnv, taskAccess, taskContainerName } from "#infra/stack/access";
import { authorizerCacheTtl, errorTemplate } from "#infra/stack/api";
import { functionNames, pascal } from "#infra/stack/functions";
import { gatewayErrors } from "#infra/stack/gateway-responses";
import { assertVisibilityTimeout, visibilityFactor } from "#infra/stack/jobs";
import {
  restStageThrottle,
  USAGE_PLANS,
  usagePlanLimits,
  usagePlanName,
  wafRequestsPerIpPer5Minutes,
  webSocketThrottle,
} from "#infra/stack/limits";
import { deadLetterMetric } from "#infra/stack/observability";
import { repoRoot } from "#infra/stack/paths";
import { webSocketIdentitySource } from "#infra/stack/realtime";
import { scheduleRetry, userScheduleTarget } from "#infra/stack/schedules";
import { corsOriginEnv } from "#infra/stack/switchboard-stack";
import { ENV } from "#shared/config";
import { actionsOf, arnOf, logicalId, ref, type Synthesized, statementsOf, synth } from "./synth.ts";

let s: Synthesized;

beforeAll(() => {
  s = synth();
});

afterAll(() => s?.dispose());

const fnId = (name: FunctionName) => logicalId(s.stack.functions.get(name));
const roleId = (name: FunctionName) => logicalId(s.stack.functions.get(name).role!);
const envOf = (name: FunctionName): Record<string, unknown> =>
  s.template.findResources("AWS::Lambda::Function")[fnId(name)]!.Properties.Environment.Variables;
const queueSpecs = manifest.queues as readonly QueueSpec[];
const routes = manifest.http.routes as readonly HttpRoute[];

describe("stack", () => {
  it("is named after the stage and exports the three URLs", () => {
    expect(s.stack.stackName).toBe("Switchboard-dev");
    for (const output of ["ApiUrl", "WebSocketUrl", "DashboardUrl"]) s.template.hasOutput(output, {});
  });

  it("leaves every physical name to CloudFormation", () => {
    const named = [
      ["AWS::DynamoDB::Table", "TableName"],
      ["AWS::SQS::Queue", "QueueName"],
      ["AWS::S3::Bucket", "BucketName"],
      ["AWS::Lambda::Function", "FunctionName"],
      ["AWS::Logs::LogGroup", "LogGroupName"],
      ["AWS::IAM::Role", "RoleName"],
      ["AWS::SNS::Topic", "TopicName"],
    ] as const;
    for (const [type, property] of named) {
      for (const resource of Object.values(s.template.findResources(type))) {
        expect(resource.Properties?.[property], `${type}.${property}`).toBeUndefined();
      }
    }
  });
});

describe("manifest coverage", () => {
  it.each(functionNames)("function %s exists with the manifest's entry settings", (name) => {
    const spec = manifest.functions[name];
    s.template.hasResourceProperties("AWS::Lambda::Function", {
      Description: spec.description,
      MemorySize: spec.memoryMb,
      Timeout: spec.timeoutSeconds,
    });
    expect((s.stack.functions.get(name).node.defaultChild as CfnFunction).description).toBe(spec.description);
  });

  it.each(routes.map((r) => [r.method, r.path, r] as const))(
    "route %s %s has a method",
    (method, path, route) => {
      const found = s.stack.api.restApi.methods.find(
        (m) => m.resource.path === path && m.httpMethod === method,
      );
      expect(found, `${method} ${path}`).toBeDefined();
      s.template.hasResourceProperties("AWS::ApiGateway::Method", {
        HttpMethod: method,
        ResourceId: ref(found!.resource),
        OperationName: route.id,
      });
    },
  );

  it.each(manifest.websocket.routes.map((r) => r.route))("WebSocket route %s exists", (route) => {
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Route", { RouteKey: route });
  });

  it.each(queueSpecs.map((q) => [q.name, q] as const))("queue %s and its DLQ exist", (name, spec) => {
    const binding = s.stack.jobs.queues.get(name)!;
    expect(binding).toBeDefined();
    s.template.hasResourceProperties("AWS::SQS::Queue", {
      VisibilityTimeout: spec.visibilityTimeoutSeconds,
      RedrivePolicy: { deadLetterTargetArn: arnOf(binding.dlq), maxReceiveCount: spec.dlq.maxReceiveCount },
    });
  });

  it.each(manifest.streams.map((c) => c.function))("stream consumer %s has a mapping", (name) => {
    s.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: fnId(name) },
      EventSourceArn: { "Fn::GetAtt": [logicalId(s.stack.data.table), "StreamArn"] },
    });
  });

  it.each(manifest.schedules.map((x) => [x.name, x] as const))("schedule %s exists", (_name, spec) => {
    s.template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: spec.expression,
      Target: Match.objectLike({ Arn: arnOf(s.stack.functions.get(spec.function)) }),
    });
  });

  it.each(manifest.table.indexes.map((i) => i.name))("index %s exists", (indexName) => {
    s.template.hasResourceProperties("AWS::DynamoDB::Table", {
      GlobalSecondaryIndexes: Match.arrayWith([Match.objectLike({ IndexName: indexName })]),
    });
  });
});

describe("data", () => {
  it("is one on-demand table with the manifest's keys, TTL, stream and PITR, encrypted with its own key", () => {
    s.template.resourceCountIs("AWS::DynamoDB::Table", 1);
    s.template.hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [
        { AttributeName: manifest.table.partitionKey, KeyType: "HASH" },
        { AttributeName: manifest.table.sortKey, KeyType: "RANGE" },
      ],
      TimeToLiveSpecification: { AttributeName: manifest.table.ttlAttribute, Enabled: true },
      StreamSpecification: { StreamViewType: "NEW_AND_OLD_IMAGES" },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: "KMS", KMSMasterKeyId: arnOf(s.stack.data.tableKey) },
      GlobalSecondaryIndexes: manifest.table.indexes.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.partitionKey, KeyType: "HASH" },
          { AttributeName: i.sortKey, KeyType: "RANGE" },
        ],
        Projection:
          i.projection.type === "INCLUDE"
            ? { ProjectionType: "INCLUDE", NonKeyAttributes: [...i.projection.include] }
            : { ProjectionType: i.projection.type },
      })),
    });
    s.template.hasResource("AWS::KMS::Key", {
      Properties: Match.objectLike({ EnableKeyRotation: true }),
    });
  });

  it("projects on each index only what its readers use", () => {
    const table = Object.values(s.template.findResources("AWS::DynamoDB::Table"))[0] as {
      Properties: { GlobalSecondaryIndexes: { IndexName: string; Projection: unknown }[] };
    };
    const projections = Object.fromEntries(
      table.Properties.GlobalSecondaryIndexes.map((index) => [index.IndexName, index.Projection]),
    );
    // The sweeper reads only which item is due (type, tenant, id) and loads it; a job item's steps must
    // never be copied into the index on its every write.
    expect(projections.gsi4).toEqual({
      ProjectionType: "INCLUDE",
      NonKeyAttributes: ["type", "tenantId", "id"],
    });
    // The overloaded list indexes hold small list items whose lists show the whole item.
    expect(projections.gsi1).toEqual({ ProjectionType: "ALL" });
    expect(projections.gsi2).toEqual({ ProjectionType: "ALL" });
    expect(projections.gsi3).toEqual({ ProjectionType: "ALL" });
    expect(Object.keys(projections).sort()).toEqual(["gsi1", "gsi2", "gsi3", "gsi4"]);
  });

  it("can be destroyed in dev", () => {
    s.template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Delete" });
    s.template.hasResourceProperties("AWS::DynamoDB::Table", { DeletionProtectionEnabled: false });
  });

  it("keeps claim-check payloads in a private, encrypted, TLS-only bucket with a lifecycle", () => {
    const id = logicalId(s.stack.data.payloads);
    s.template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: ref(s.stack.security.accessLogs) }),
    });
    s.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("jobs", () => {
  it.each(queueSpecs.map((q) => [q.name, q] as const))(
    "queue %s is encrypted, TLS-only and retained as specified",
    (name, spec) => {
      const { queue, dlq } = s.stack.jobs.queues.get(name)!;
      s.template.hasResourceProperties("AWS::SQS::Queue", {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: spec.retentionSeconds,
        VisibilityTimeout: spec.visibilityTimeoutSeconds,
      });
      s.template.hasResourceProperties("AWS::SQS::Queue", {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: spec.dlq.retentionSeconds,
      });
      for (const q of [queue, dlq]) {
        s.template.hasResourceProperties("AWS::SQS::QueuePolicy", {
          Queues: [ref(q)],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
            ]),
          },
        });
      }
    },
  );

  it.each(queueSpecs.map((q) => [q.name, q] as const))(
    "queue %s feeds its consumer with partial batch failures",
    (name, spec) => {
      const { queue, dlq } = s.stack.jobs.queues.get(name)!;
      s.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        FunctionName: { Ref: fnId(spec.consumer.function) },
        EventSourceArn: arnOf(queue),
        BatchSize: spec.consumer.batchSize,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        ScalingConfig: { MaximumConcurrency: spec.consumer.maxConcurrency },
        MaximumBatchingWindowInSeconds:
          spec.consumer.maxBatchingWindowSeconds > 0
            ? spec.consumer.maxBatchingWindowSeconds
            : Match.absent(),
      });
      if (spec.dlqConsumer) {
        s.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
          FunctionName: { Ref: fnId(spec.dlqConsumer.function) },
          EventSourceArn: arnOf(dlq),
          BatchSize: spec.dlqConsumer.batchSize,
          FunctionResponseTypes: ["ReportBatchItemFailures"],
        });
        const dlqTimeout = manifest.functions[spec.dlqConsumer.function].timeoutSeconds;
        const dlqQueue = s.template.findResources("AWS::SQS::Queue")[logicalId(dlq)]!;
        expect(dlqQueue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(visibilityFactor * dlqTimeout);
      }
    },
  );

  it("holds every queue's visibility timeout to at least 6x its consumer's timeout", () => {
    for (const spec of queueSpecs) {
      expect(spec.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
        visibilityFactor * manifest.functions[spec.consumer.function].timeoutSeconds,
      );
      expect(() => assertVisibilityTimeout(spec)).not.toThrow();
    }
  });

  it("refuses at synth a queue whose visibility timeout is shorter than 6x its consumer's timeout", () => {
    const spec = structuredClone(queueSpecs[0]!) as QueueSpec;
    spec.visibilityTimeoutSeconds =
      manifest.functions[spec.consumer.function].timeoutSeconds * visibilityFactor - 1;
    expect(() => assertVisibilityTimeout(spec)).toThrow(/visibilityTimeoutSeconds .* below 6 x/);
  });

  it.each(manifest.streams.map((c) => [c.function, c] as const))(
    "stream consumer %s filters, bisects and parks failures",
    (name, spec) => {
      const consumer = s.stack.jobs.streams.find((c) => c.spec.function === name)!;
      s.template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        FunctionName: { Ref: fnId(name) },
        StartingPosition: "LATEST",
        BatchSize: spec.batchSize,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: spec.retryAttempts,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        DestinationConfig: { OnFailure: { Destination: arnOf(consumer.failures) } },
        FilterCriteria: {
          Filters: [
            {
              Pattern: JSON.stringify({
                eventName: [...spec.eventNames],
                dynamodb: { NewImage: { sk: { S: spec.skPrefixes.map((prefix) => ({ prefix })) } } },
              }),
            },
          ],
        },
      });
    },
  );
});

const baseEnv = [
  "NODE_OPTIONS",
  "POWERTOOLS_SERVICE_NAME",
  "POWERTOOLS_METRICS_NAMESPACE",
  "POWERTOOLS_LOG_LEVEL",
  ENV.version,
];

/** The variables an access line promises, named by shared/config's ENV. */
function envFor(access: Access): string[] {
  const env: string[] = [];
  if (access.table) env.push(ENV.tableName);
  for (const q of Object.keys(access.queues ?? {})) env.push(queueSpecs.find((x) => x.name === q)!.urlEnv);
  for (const q of Object.keys(access.dlqs ?? {})) env.push(queueSpecs.find((x) => x.name === q)!.dlq.urlEnv);
  if (access.jwtSecret) env.push(ENV.jwtSecretId);
  if (access.providerSecrets) env.push(ENV.secretsKeyId);
  if (access.payloads) env.push(ENV.payloadBucket);
  if (access.connections) env.push(ENV.wsCallbackUrl);
  if (access.tasks) env.push(ENV.ecsCluster);
  if (access.tasks === "run") {
    env.push(
      ENV.taskDefinition,
      ENV.taskSubnets,
      ENV.taskSecurityGroups,
      ENV.taskContainerName,
      ENV.taskAssignPublicIp,
    );
  }
  if (access.userSchedules === "manage") {
    env.push(scheduleEnv.groupName, scheduleEnv.roleArn, scheduleEnv.dlqArn);
    if (userScheduleTarget() !== undefined) env.push(scheduleEnv.targetArn);
  }
  if (access.vectors) env.push(ENV.vectorBucket);
  if (access.usageKeys) env.push(ENV.usageNamespace);
  if (access.notifications) env.push(ENV.notificationsTopicArn);
  return env;
}

/** One action that only the matching access grants, to tell a granted kind from a missing one. */
const signatures: [string, (a: Access) => boolean][] = [
  ["dynamodb:Query", (a) => a.table !== undefined],
  ["dynamodb:PutItem", (a) => a.table === "rw"],
  ["sqs:StartMessageMoveTask", (a) => Object.keys(a.dlqs ?? {}).length > 0],
  ["secretsmanager:GetSecretValue", (a) => a.jwtSecret !== undefined],
  ["s3:GetObject", (a) => a.payloads !== undefined],
  ["s3:PutObject", (a) => a.payloads === "rw"],
  ["execute-api:ManageConnections", (a) => a.connections !== undefined],
  ["ecs:RunTask", (a) => a.tasks === "run"],
  ["ecs:StopTask", (a) => a.tasks !== undefined],
  ["bedrock:InvokeModel", (a) => a.models !== undefined],
  ["scheduler:CreateSchedule", (a) => a.userSchedules === "manage"],
  ["s3vectors:QueryVectors", (a) => a.vectors !== undefined],
  ["s3vectors:CreateIndex", (a) => a.vectors === "manage"],
  ["apigateway:DELETE", (a) => a.usageKeys === "manage"],
  ["sns:Publish", (a) => a.notifications !== undefined],
];

describe("functions", () => {
  it.each(functionNames)(
    "%s runs Node.js 22 on arm64 with X-Ray, its own log group and Powertools settings",
    (name) => {
      const fn = s.template.findResources("AWS::Lambda::Function")[fnId(name)]!;
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
        LoggingConfig: { LogGroup: ref(s.stack.functions.logGroups[name]) },
      });
      expect(envOf(name)).toMatchObject({
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: name,
        POWERTOOLS_METRICS_NAMESPACE: "Switchboard",
        POWERTOOLS_LOG_LEVEL: "INFO",
      });
      s.template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
      expect(
        s.template.findResources("AWS::Logs::LogGroup")[logicalId(s.stack.functions.logGroups[name])],
      ).toBeDefined();
    },
  );

  it.each(functionNames)("%s logs through a grant on its log group, not a managed policy", (name) => {
    const role = s.template.findResources("AWS::IAM::Role")[roleId(name)]!;
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(statementsOf(s.template, roleId(name))).toContainEqual(
      expect.objectContaining({
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: arnOf(s.stack.functions.logGroups[name]),
      }),
    );
  });

  it.each(functionNames)("%s gets exactly the environment its access line promises", (name) => {
    const expected = new Set([...baseEnv, ...envFor(functionAccess[name])]);
    if (routes.some((r) => r.function === name)) expected.add(corsOriginEnv);
    expect(new Set(Object.keys(envOf(name)))).toEqual(expected);
  });

  it.each(functionNames)("%s holds the grants of its access line and none of the others", (name) => {
    const actions = actionsOf(statementsOf(s.template, roleId(name)));
    for (const [action, granted] of signatures) {
      expect(actions.has(action), `${name}: ${action}`).toBe(granted(functionAccess[name]));
    }
    expect(actions.has("dynamodb:Scan"), `${name} must query, never scan`).toBe(false);
  });

  it("grants table access on the table and each manifest index by name, never index/*", () => {
    const table = s.stack.data.table;
    const statement = statementsOf(s.template, roleId("api")).find((x) =>
      [x.Action].flat().includes("dynamodb:Query"),
    )!;
    expect(statement.Resource).toEqual([
      arnOf(table),
      ...manifest.table.indexes.map((i) => ({ "Fn::Join": ["", [arnOf(table), `/index/${i.name}`]] })),
    ]);
  });
});

describe("api", () => {
  it("is a regional REST API whose usage keys come from the authorizer", () => {
    s.template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["REGIONAL"] },
      ApiKeySourceType: "AUTHORIZER",
    });
  });

  it("runs the REQUEST authorizer uncached and with no identity sources, so either header reaches it", () => {
    expect(authorizerCacheTtl.toSeconds()).toBe(0);
    s.template.hasResourceProperties("AWS::ApiGateway::Authorizer", {
      Type: "REQUEST",
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: Match.absent(),
    });
  });

  it.each(routes.map((r) => [r.method, r.path, r] as const))(
    "%s %s is a proxy to its function, authorized unless public",
    (method, path, route) => {
      const found = s.stack.api.restApi.methods.find(
        (m) => m.resource.path === path && m.httpMethod === method,
      )!;
      const cfn = s.template.findResources("AWS::ApiGateway::Method")[logicalId(found)]!;
      expect(cfn.Properties.Integration.Type).toBe("AWS_PROXY");
      expect(JSON.stringify(cfn.Properties.Integration.Uri)).toContain(fnId(route.function));
      if (route.auth === "public") {
        expect(cfn.Properties.AuthorizationType).toBe("NONE");
        expect(cfn.Properties.ApiKeyRequired ?? false).toBe(false);
      } else {
        expect(cfn.Properties).toMatchObject({
          AuthorizationType: "CUSTOM",
          AuthorizerId: ref(s.stack.api.authorizer),
          ApiKeyRequired: true,
        });
      }
    },
  );

  it.each([...USAGE_PLANS])("has the %s usage plan, with its limits, on the stage", (plan) => {
    const limits = usagePlanLimits[plan];
    s.template.hasResourceProperties("AWS::ApiGateway::UsagePlan", {
      UsagePlanName: usagePlanName(s.stack.stackName, plan),
      Throttle: { RateLimit: limits.rateLimit, BurstLimit: limits.burstLimit },
      Quota: { Limit: limits.quota.limit, Period: limits.quota.period },
      ApiStages: [{ ApiId: ref(s.stack.api.restApi), Stage: ref(s.stack.api.restApi.deploymentStage) }],
    });
    // Below the stage's own limit, which stays the outer one.
    expect(limits.rateLimit).toBeLessThan(restStageThrottle.rateLimit);
    expect(limits.burstLimit).toBeLessThan(restStageThrottle.burstLimit);
  });

  it("creates no usage key at deploy: every tenant and API key gets its own at run time", () => {
    s.template.resourceCountIs("AWS::ApiGateway::UsagePlan", USAGE_PLANS.length);
    s.template.resourceCountIs("AWS::ApiGateway::ApiKey", 0);
    s.template.resourceCountIs("AWS::ApiGateway::UsagePlanKey", 0);
    // The authorizer derives each caller's usage key from the stack's name; the api function creates them.
    expect(envOf(manifest.http.authorizer)[ENV.usageNamespace]).toBe(s.stack.stackName);
    expect(envOf("api")[ENV.usageNamespace]).toBe(s.stack.stackName);
  });

  it("lets the api function manage API Gateway keys and add them to plans, and nothing else there", () => {
    const statements = statementsOf(s.template, roleId("api")).filter((x) =>
      [x.Action].flat().some((action) => String(action).startsWith("apigateway:")),
    );
    const path = (resource: string) => ({
      "Fn::Join": [
        "",
        ["arn:", { Ref: "AWS::Partition" }, ":apigateway:", { Ref: "AWS::Region" }, `::${resource}`],
      ],
    });
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ["apigateway:POST", "apigateway:GET"],
          Resource: path("/apikeys"),
        }),
        expect.objectContaining({ Action: "apigateway:DELETE", Resource: path("/apikeys/*") }),
        expect.objectContaining({ Action: "apigateway:GET", Resource: path("/usageplans") }),
        expect.objectContaining({ Action: "apigateway:POST", Resource: path("/usageplans/*/keys") }),
      ]),
    );
    expect(statements).toHaveLength(4);
    const authorizer = actionsOf(statementsOf(s.template, roleId(manifest.http.authorizer)));
    expect([...authorizer].filter((action) => action.startsWith("apigateway:"))).toEqual([]);
  });

  it("tells a throttled client to retry after a second, with the contract's body", () => {
    s.template.hasResourceProperties("AWS::ApiGateway::GatewayResponse", {
      ResponseType: "THROTTLED",
      StatusCode: Match.absent(),
      ResponseParameters: Match.objectLike({ "gatewayresponse.header.Retry-After": "'1'" }),
      ResponseTemplates: { "application/json": errorTemplate("TOO_MANY_REQUESTS") },
    });
  });

  it("throttles, traces and writes JSON access logs on the stage", () => {
    s.template.hasResourceProperties("AWS::ApiGateway::Stage", {
      StageName: "dev",
      TracingEnabled: true,
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: "*",
          ResourcePath: "/*",
          LoggingLevel: "ERROR",
          DataTraceEnabled: false,
          ThrottlingRateLimit: restStageThrottle.rateLimit,
          ThrottlingBurstLimit: restStageThrottle.burstLimit,
        }),
      ]),
      AccessLogSetting: {
        DestinationArn: arnOf(s.stack.api.accessLogs),
        Format: Match.stringLikeRegexp('^\\{"requestId"'),
      },
    });
    const stage = Object.values(s.template.findResources("AWS::ApiGateway::Stage"))[0]!;
    expect(() => JSON.parse(stage.Properties.AccessLogSetting.Format)).not.toThrow();
  });

  it("allows the dashboard's origin, and only it, in CORS preflights", () => {
    const options = Object.values(s.template.findResources("AWS::ApiGateway::Method")).filter(
      (m) => m.Properties.HttpMethod === "OPTIONS",
    );
    expect(options.length).toBeGreaterThan(0);
    for (const m of options) {
      const header =
        m.Properties.Integration.IntegrationResponses[0].ResponseParameters[
          "method.response.header.Access-Control-Allow-Origin"
        ];
      expect(JSON.stringify(header)).toContain(logicalId(s.stack.site.distribution));
    }
  });

  it.each(gatewayErrors.map((e) => [e.type, e] as const))(
    "answers %s in the contract's error shape",
    (type, error) => {
      s.template.hasResourceProperties("AWS::ApiGateway::GatewayResponse", {
        ResponseType: type,
        ...(error.statusCode ? { StatusCode: error.statusCode } : {}),
        ResponseTemplates: { "application/json": errorTemplate(error.code, error.message) },
        ResponseParameters: Match.objectLike({
          "gatewayresponse.header.Access-Control-Allow-Origin": Match.anyValue(),
        }),
      });
      const body = errorTemplate(error.code, error.message)
        .replace("$context.error.messageString", '"m"')
        .replace("$context.requestId", "r");
      expect(Object.keys(JSON.parse(body))).toEqual(["code", "message", "requestId"]);
    },
  );

  it("sits behind the regional web ACL", () => {
    s.template.hasResourceProperties("AWS::WAFv2::WebACLAssociation", {
      WebACLArn: arnOf(s.stack.security.apiWebAcl),
      ResourceArn: Match.objectLike({ "Fn::Join": Match.anyValue() }),
    });
    const association = Object.values(s.template.findResources("AWS::WAFv2::WebACLAssociation"))[0]!;
    expect(JSON.stringify(association.Properties.ResourceArn)).toContain(logicalId(s.stack.api.restApi));
  });
});

describe("realtime", () => {
  it("routes on the manifest's selection expression", () => {
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      ProtocolType: "WEBSOCKET",
      RouteSelectionExpression: manifest.websocket.routeSelectionExpression,
    });
  });

  it("authorizes $connect with the token query parameter, and no other route", () => {
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "REQUEST",
      IdentitySource: [webSocketIdentitySource],
    });
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
      RouteKey: "$connect",
      AuthorizationType: "CUSTOM",
    });
    for (const route of Object.values(s.template.findResources("AWS::ApiGatewayV2::Route"))) {
      if (route.Properties.RouteKey !== "$connect")
        expect(route.Properties.AuthorizationType ?? "NONE").toBe("NONE");
    }
  });

  it("auto-deploys a throttled, access-logged stage", () => {
    s.template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "dev",
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: webSocketThrottle.rateLimit,
        ThrottlingBurstLimit: webSocketThrottle.burstLimit,
      },
      AccessLogSettings: { DestinationArn: arnOf(s.stack.realtime.accessLogs), Format: Match.anyValue() },
    });
  });

  it("lets functions and the task manage connections of this stage only, and tells them where", () => {
    const holders = functionNames.filter((n) => {
      const access: Access = functionAccess[n];
      return access.connections !== undefined;
    });
    expect(holders).toEqual(expect.arrayContaining(["ws", "fanout", "worker"]));
    for (const name of holders) {
      const statement = statementsOf(s.template, roleId(name)).find(
        (x) => x.Action === "execute-api:ManageConnections",
      )!;
      const resource = JSON.stringify(statement.Resource);
      expect(resource).toContain(logicalId(s.stack.realtime.api));
      expect(resource).toContain('"/dev/*/@connections/*"');
      expect(envOf(name)[ENV.wsCallbackUrl]).toEqual({
        "Fn::Join": [
          "",
          [
            "https://",
            ref(s.stack.realtime.api),
            ".execute-api.",
            { Ref: "AWS::Region" },
            ".",
            { Ref: "AWS::URLSuffix" },
            "/dev",
          ],
        ],
      });
    }
  });
});

describe("tasks", () => {
  it("uses two public subnets, no NAT gateway, flow logs and gateway endpoints", () => {
    s.template.resourceCountIs("AWS::EC2::NatGateway", 0);
    s.template.resourceCountIs("AWS::EC2::Subnet", 2);
    s.template.hasResourceProperties("AWS::EC2::FlowLog", {
      TrafficType: "ALL",
      LogDestinationType: "cloud-watch-logs",
    });
    s.template.resourceCountIs("AWS::EC2::VPCEndpoint", 2);
  });

  it("runs a Fargate arm64 task with container insights, logs and no inbound rule", () => {
    s.template.hasResourceProperties("AWS::ECS::Cluster", {
      ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }],
    });
    s.template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      RequiresCompatibilities: ["FARGATE"],
      RuntimePlatform: { CpuArchitecture: "ARM64", OperatingSystemFamily: "LINUX" },
      TaskRoleArn: arnOf(s.stack.tasks.taskRole),
      ContainerDefinitions: [
        Match.objectLike({
          Name: taskContainerName,
          LogConfiguration: Match.objectLike({ LogDriver: "awslogs" }),
        }),
      ],
    });
    s.template.hasResourceProperties("AWS::EC2::SecurityGroup", { SecurityGroupIngress: Match.absent() });
  });

  it("gives the step container the environment of its access line", () => {
    const def = Object.values(s.template.findResources("AWS::ECS::TaskDefinition"))[0]!;
    const names = (def.Properties.ContainerDefinitions[0].Environment as { Name: string }[]).map(
      (e) => e.Name,
    );
    expect(names).toEqual(expect.arrayContaining(envFor(taskAccess)));
  });

  it("builds the image from functions/tasks/Dockerfile for linux/arm64, staging only what the build reads", () => {
    const assembly = s.app.synth();
    const assets = JSON.parse(
      readFileSync(join(assembly.directory, `${s.stack.artifactId}.assets.json`), "utf8"),
    ) as {
      dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform: string } }>;
    };
    const images = Object.values(assets.dockerImages);
    expect(images).toHaveLength(1);
    const { source } = images[0]!;
    expect(source).toMatchObject({ dockerFile: "functions/tasks/Dockerfile", platform: "linux/arm64" });
    const staged = readdirSync(join(assembly.directory, source.directory)).sort();
    expect(staged).toEqual([
      "events",
      "functions",
      "infra",
      "package-lock.json",
      "package.json",
      "shared",
      "tsconfig.json",
    ]);
    expect(readdirSync(join(assembly.directory, source.directory, "infra"))).toEqual(["manifest.ts"]);
    expect(existsSync(join(assembly.directory, source.directory, "functions/tasks/Dockerfile"))).toBe(true);
  });

  it("lets the worker run only the step task on this cluster and pass only its roles", () => {
    const statements = statementsOf(s.template, roleId("worker"));
    const run = statements.find((x) => x.Action === "ecs:RunTask")!;
    expect(run.Resource).toEqual(ref(s.stack.tasks.taskDefinition));
    expect(run.Condition).toEqual({ ArnEquals: { "ecs:cluster": arnOf(s.stack.tasks.cluster) } });
    const pass = statements.find((x) => x.Action === "iam:PassRole")!;
    expect(pass.Resource).toEqual([
      arnOf(s.stack.tasks.taskRole),
      arnOf(s.stack.tasks.taskDefinition.obtainExecutionRole()),
    ]);
    expect(pass.Condition).toEqual({ StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } });
  });
  it("gives the task a route out: public subnets with a default route to the internet gateway, and a public IP", () => {
    const subnetIds = s.stack.tasks.vpc.publicSubnets.map((subnet) => subnet.node.defaultChild);
    expect(subnetIds).toHaveLength(2);
    const gateways = Object.keys(s.template.findResources("AWS::EC2::InternetGateway"));
    expect(gateways).toHaveLength(1);
    const routes = Object.values(s.template.findResources("AWS::EC2::Route"));
    const associations = Object.values(s.template.findResources("AWS::EC2::SubnetRouteTableAssociation"));
    for (const subnet of s.stack.tasks.vpc.publicSubnets) {
      const table = associations.find(
        (a) => JSON.stringify(a.Properties.SubnetId) === JSON.stringify(ref(subnet)),
      )?.Properties.RouteTableId;
      expect(table, `${subnet.node.path} has a route table`).toBeDefined();
      // ECR, CloudWatch Logs, SQS, KMS, Secrets Manager, Bedrock and model APIs are all reached this way;
      // DynamoDB and S3 (image layers included) also have gateway endpoints.
      expect(
        routes.some(
          (r) =>
            JSON.stringify(r.Properties.RouteTableId) === JSON.stringify(table) &&
            r.Properties.DestinationCidrBlock === "0.0.0.0/0" &&
            JSON.stringify(r.Properties.GatewayId) === JSON.stringify({ Ref: gateways[0] }),
        ),
        `${subnet.node.path} routes 0.0.0.0/0 to the internet gateway`,
      ).toBe(true);
    }
    expect(envOf("worker")[ENV.taskAssignPublicIp]).toBe("ENABLED");
    const subnets = JSON.stringify(envOf("worker")[ENV.taskSubnets]);
    for (const subnet of s.stack.tasks.vpc.publicSubnets)
      expect(subnets).toContain(JSON.stringify(ref(subnet)));
    s.template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      SecurityGroupEgress: [Match.objectLike({ CidrIp: "0.0.0.0/0", IpProtocol: "-1" })],
    });
  });

  it("lets the worker tag the tasks it starts (RunTask with tags), and only as part of RunTask", () => {
    const statements = statementsOf(s.template, roleId("worker"));
    const tag = statements.find((x) => x.Action === "ecs:TagResource")!;
    expect(tag, "ecs:TagResource").toBeDefined();
    expect(tag.Condition).toEqual({ StringEquals: { "ecs:CreateAction": "RunTask" } });
    expect(JSON.stringify(tag.Resource)).toContain(":task/");
    // Only the code that starts tasks may tag them.
    for (const name of functionNames.filter((n) => n !== "worker")) {
      expect(actionsOf(statementsOf(s.template, roleId(name))).has("ecs:TagResource"), name).toBe(false);
    }
  });

  it("lets the execution role pull the image and write the step logs", () => {
    const execution = logicalId(s.stack.tasks.taskDefinition.obtainExecutionRole());
    const actions = actionsOf(statementsOf(s.template, execution));
    for (const action of [
      "ecr:GetAuthorizationToken",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]) {
      expect(actions.has(action), action).toBe(true);
    }
  });
});

describe("schedules", () => {
  it("keeps user schedules in their own group", () => {
    s.template.resourceCountIs("AWS::Scheduler::ScheduleGroup", 1);
  });

  it.each(manifest.schedules.map((x) => [x.name, x] as const))(
    "%s retries, then parks what it cannot deliver",
    (_name, spec) => {
      s.template.hasResourceProperties("AWS::Scheduler::Schedule", {
        ScheduleExpression: spec.expression,
        State: "ENABLED",
        Target: {
          Arn: arnOf(s.stack.functions.get(spec.function)),
          RoleArn: Match.anyValue(),
          DeadLetterConfig: { Arn: arnOf(s.stack.functions.asyncFailures!) },
          RetryPolicy: {
            MaximumRetryAttempts: scheduleRetry.retryAttempts,
            MaximumEventAgeInSeconds: scheduleRetry.maxEventAge.toSeconds(),
          },
        },
      });
    },
  );

  it("lets the user schedule role invoke only the schedule target, if there is one", () => {
    const statements = statementsOf(s.template, logicalId(s.stack.schedules.userRole));
    const invoke = statements.filter((x) => [x.Action].flat().includes("lambda:InvokeFunction"));
    const target = userScheduleTarget();
    if (target === undefined) expect(invoke).toHaveLength(0);
    else expect(JSON.stringify(invoke)).toContain(fnId(target));
    s.template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: "scheduler.amazonaws.com" },
            Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
          }),
        ],
      },
      Description: Match.stringLikeRegexp("user schedules"),
    });
  });

  it("sends a scheduled function's failed invocations to the async failure queue", () => {
    for (const spec of manifest.schedules) {
      s.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
        FunctionName: { Ref: fnId(spec.function) },
        DestinationConfig: { OnFailure: { Destination: arnOf(s.stack.functions.asyncFailures!) } },
      });
    }
  });
});

describe("dashboard", () => {
  it("serves a private bucket through CloudFront with origin access control", () => {
    s.template.resourceCountIs("AWS::CloudFront::OriginAccessControl", 1);
    s.template.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: "index.html",
        HttpVersion: "http2and3",
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: "redirect-to-https" }),
        // Standard logs where the region can receive them (decided at deploy: see stages.test.ts).
        Logging: {
          "Fn::If": [Match.anyValue(), Match.objectLike({ Prefix: "cloudfront/" }), { Ref: "AWS::NoValue" }],
        },
        CustomErrorResponses: [403, 404].map((code) => ({
          ErrorCode: code,
          ResponseCode: 200,
          ResponsePagePath: "/index.html",
          ErrorCachingMinTTL: 0,
        })),
        CacheBehaviors: [Match.objectLike({ PathPattern: "/config.json" })],
      }),
    });
    s.template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: Match.objectLike({ BlockPublicPolicy: true }),
      LoggingConfiguration: {
        DestinationBucketName: ref(s.stack.security.accessLogs),
        LogFilePrefix: "dashboard/",
      },
    });
  });

  it("adds security headers to every response", () => {
    s.template.hasResourceProperties("AWS::CloudFront::ResponseHeadersPolicy", {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 63_072_000, Override: true }),
          ContentSecurityPolicy: Match.objectLike({ Override: true }),
          FrameOptions: { FrameOption: "DENY", Override: true },
          ContentTypeOptions: { Override: true },
        }),
      }),
    });
  });

  it("publishes the build and a config.json naming both APIs", () => {
    s.template.resourceCountIs("Custom::CDKBucketDeployment", 1);
    const deployment = Object.values(s.template.findResources("Custom::CDKBucketDeployment"))[0]!;
    expect(deployment.Properties.SourceObjectKeys).toHaveLength(2);
    const markers = JSON.stringify(deployment.Properties.SourceMarkers);
    expect(markers).toContain(logicalId(s.stack.api.restApi));
    expect(markers).toContain(logicalId(s.stack.realtime.api));
  });
});

describe("observability", () => {
  const alarmOn = (metricName: string, dimension: object) =>
    s.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: metricName,
      Dimensions: Match.arrayWith([Match.objectLike(dimension)]),
      AlarmActions: [ref(s.stack.observability.topic)],
    });

  it("alarms on every dead letter (the consumer's metric, not DLQ depth) and on message age of every queue", () => {
    for (const { spec, queue, dlq } of s.stack.jobs.queues.values()) {
      if (spec.dlqConsumer !== undefined) {
        s.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
          Namespace: deadLetterMetric.namespace,
          MetricName: deadLetterMetric.name,
          Dimensions: [{ Name: "service", Value: spec.dlqConsumer.function }],
          Statistic: "Sum",
          Threshold: 1,
          AlarmActions: [ref(s.stack.observability.topic)],
        });
        // A drained queue's depth stays at zero: an alarm on it would never fire.
        s.template.resourcePropertiesCountIs(
          "AWS::CloudWatch::Alarm",
          {
            MetricName: "ApproximateNumberOfMessagesVisible",
            Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [logicalId(dlq), "QueueName"] } }],
          },
          0,
        );
      }
      alarmOn("ApproximateAgeOfOldestMessage", { Value: { "Fn::GetAtt": [logicalId(queue), "QueueName"] } });
    }
  });

  it("names the dead-letter metric the DLQ consumer emits", () => {
    const code = readFileSync(join(repoRoot, manifest.functions.dlq.entry), "utf8");
    expect(code).toContain(`addMetric("${deadLetterMetric.name}"`);
    expect(envOf("dlq")).toMatchObject({
      POWERTOOLS_METRICS_NAMESPACE: deadLetterMetric.namespace,
      POWERTOOLS_SERVICE_NAME: "dlq",
    });
  });

  it.each(functionNames)("alarms on errors and throttles of %s", (name) => {
    alarmOn("Errors", { Name: "FunctionName", Value: { Ref: fnId(name) } });
    alarmOn("Throttles", { Name: "FunctionName", Value: { Ref: fnId(name) } });
  });

  it("alarms on API 5xx and stream iterator age", () => {
    s.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "5XXError",
      Namespace: "AWS/ApiGateway",
    });
    for (const { spec } of s.stack.jobs.streams)
      alarmOn("IteratorAge", { Value: { Ref: fnId(spec.function) } });
  });

  it("notifies through an encrypted, TLS-only topic, with no e-mail unless asked", () => {
    s.template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
    s.template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
    s.template.resourceCountIs("AWS::SNS::Subscription", 0);
    s.template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
  });
});

describe("security", () => {
  it("filters the API with AWS managed rules, lets large bodies through to the API's own limit, and rate-limits", () => {
    s.template.hasResourceProperties("AWS::WAFv2::WebACL", {
      Scope: "REGIONAL",
      DefaultAction: { Allow: {} },
      Rules: Match.arrayWith([
        Match.objectLike({
          Statement: {
            ManagedRuleGroupStatement: {
              VendorName: "AWS",
              Name: "AWSManagedRulesCommonRuleSet",
              RuleActionOverrides: [{ Name: "SizeRestrictions_BODY", ActionToUse: { Count: {} } }],
            },
          },
        }),
        Match.objectLike({
          Action: { Block: {} },
          Statement: { RateBasedStatement: { Limit: wafRequestsPerIpPer5Minutes, AggregateKeyType: "IP" } },
        }),
      ]),
    });
    s.template.resourceCountIs("AWS::WAFv2::WebACL", 1);
  });

  it("generates a 64-character JWT signing key", () => {
    s.template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
  });

  it("rotates the provider secrets key", () => {
    s.template.hasResourceProperties("AWS::KMS::Key", {
      EnableKeyRotation: true,
      Description: Match.stringLikeRegexp("provider credentials"),
    });
  });

  it("names every function by its manifest key in PascalCase ids", () => {
    for (const name of functionNames) expect(s.stack.functions.get(name).node.id).toBe(pascal(name));
  });
});
