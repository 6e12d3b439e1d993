/**
 * Every Lambda function of the manifest, built one way: Node.js 22 on arm64, ESM bundle made by esbuild on
 * this machine, X-Ray, its own log group and its own role. Nothing else in the stack creates a function.
 */
import { readFileSync } from "node:fs";
import { Duration } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { Charset, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup } from "aws-cdk-lib/aws-logs";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { type FunctionName, type FunctionSpec, manifest, type QueueSpec } from "#infra/manifest";
import { type Access, functionAccess } from "./access.ts";
import { deadLetterQueue } from "./dead-letter-queue.ts";
import { acknowledge, allowWildcard } from "./nag.ts";
import { exists, fromRoot } from "./paths.ts";
import type { Settings } from "./settings.ts";

export const functionNames = Object.keys(manifest.functions) as FunctionName[];

export const pascal = (name: string) =>
  name.replace(/(^|[-_\s]+)([a-z0-9])/g, (_m, _sep: string, c: string) => c.toUpperCase());

/**
 * The createRequire shim lets CommonJS dependencies that call `require` for Node built-ins run inside an
 * ESM bundle; the alias keeps it from clashing with an import of the same name in the bundle.
 */
export const esmRequireBanner =
  "import { createRequire as __sbCreateRequire } from 'node:module';const require = __sbCreateRequire(import.meta.url);";

/** Functions that something invokes asynchronously (EventBridge Scheduler), which need somewhere for failures. */
export function asyncFunctions(): Set<FunctionName> {
  const names = new Set<FunctionName>(manifest.schedules.map((s) => s.function));
  for (const name of functionNames) {
    const access: Access = functionAccess[name];
    if (access.userSchedules === "target") names.add(name);
  }
  return names;
}

/** How each function is invoked, from the manifest; a function with no trigger is a manifest mistake. */
export function triggersOf(name: FunctionName): string[] {
  const triggers: string[] = [];
  if (manifest.http.routes.some((r) => r.function === name)) triggers.push("REST API proxy integration");
  if (manifest.http.authorizer === name || manifest.websocket.authorizer === name) {
    triggers.push("API Gateway Lambda authorizer");
  }
  if (manifest.websocket.routes.some((r) => r.function === name)) triggers.push("WebSocket API route");
  for (const q of manifest.queues as readonly QueueSpec[]) {
    if (q.consumer.function === name) triggers.push(`SQS event source mapping on ${q.name}`);
    if (q.dlqConsumer?.function === name) triggers.push(`SQS event source mapping on ${q.dlq.name}`);
  }
  if (manifest.streams.some((s) => s.function === name))
    triggers.push("DynamoDB stream event source mapping");
  if (asyncFunctions().has(name)) triggers.push("EventBridge Scheduler (asynchronous invoke)");
  return triggers;
}

export interface FunctionsProps {
  settings: Settings;
}

export class Functions extends Construct {
  readonly byName: Readonly<Record<FunctionName, NodejsFunction>>;
  readonly logGroups: Readonly<Record<FunctionName, LogGroup>>;
  /** Where asynchronous invocations land after Lambda's own retries fail. */
  readonly asyncFailures: Queue | undefined;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const { settings } = props;

    const unlisted = functionNames.filter((n) => functionAccess[n] === undefined);
    if (unlisted.length > 0) {
      throw new Error(`Functions without a line in infra/stack/access.ts: ${unlisted.join(", ")}`);
    }
    const missing = functionNames.filter((n) => !exists(manifest.functions[n].entry));
    if (missing.length > 0) {
      throw new Error(
        `Function entries missing: ${missing.map((n) => `${n} (${manifest.functions[n].entry})`).join(", ")}`,
      );
    }

    const version = (JSON.parse(readFileSync(fromRoot("package.json"), "utf8")) as { version: string })
      .version;
    const async = asyncFunctions();
    this.asyncFailures =
      async.size > 0
        ? deadLetterQueue(this, "AsyncFailures", {
            holds:
              "asynchronous invocations (EventBridge Scheduler targets) that failed after Lambda's retries",
          })
        : undefined;

    const byName = {} as Record<FunctionName, NodejsFunction>;
    const logGroups = {} as Record<FunctionName, LogGroup>;
    for (const name of functionNames) {
      const spec: FunctionSpec = manifest.functions[name];
      const Name = pascal(name);
      const logGroup = new LogGroup(this, `${Name}Logs`, {
        retention: settings.logRetention,
        removalPolicy: settings.dataRemovalPolicy,
      });
      // An own role instead of the default one, so logging is a grant on this log group rather than the
      // AWSLambdaBasicExecutionRole managed policy, which may write to every log group in the account.
      const role = new Role(this, `${Name}Role`, {
        assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
        description: `Execution role of the ${name} function`,
      });
      logGroup.grantWrite(role);

      const fn = new NodejsFunction(this, Name, {
        entry: fromRoot(spec.entry),
        handler: "handler",
        description: spec.description,
        runtime: Runtime.NODEJS_22_X,
        architecture: Architecture.ARM_64,
        memorySize: spec.memoryMb,
        timeout: Duration.seconds(spec.timeoutSeconds),
        tracing: Tracing.ACTIVE,
        role,
        logGroup,
        projectRoot: fromRoot(),
        depsLockFilePath: fromRoot("package-lock.json"),
        environment: {
          NODE_OPTIONS: "--enable-source-maps",
          POWERTOOLS_SERVICE_NAME: name,
          POWERTOOLS_METRICS_NAMESPACE: "Switchboard",
          POWERTOOLS_LOG_LEVEL: settings.logLevel,
          SWITCHBOARD_VERSION: version,
        },
        bundling: {
          forceDockerBundling: false,
          format: OutputFormat.ESM,
          target: "node22",
          mainFields: ["module", "main"],
          banner: esmRequireBanner,
          minify: true,
          keepNames: true,
          sourceMap: true,
          sourcesContent: false,
          charset: Charset.UTF8,
          tsconfig: fromRoot("tsconfig.json"),
          // Bundled rather than taken from the runtime, so the SDK version is the one the tests ran.
          bundleAwsSDK: true,
          externalModules: [],
        },
        ...(async.has(name) && this.asyncFailures !== undefined
          ? { onFailure: new SqsDestination(this.asyncFailures), retryAttempts: 2 }
          : {}),
      });

      const triggers = triggersOf(name);
      if (async.has(name)) {
        acknowledge(
          fn,
          "Serverless-LambdaDLQ",
          `The ${name} function's failed asynchronous invocations go to an on-failure destination (AsyncFailures), ` +
            "the successor of a function DLQ that also records the error and the retry count.",
        );
      } else if (triggers.length > 0) {
        acknowledge(
          fn,
          "Serverless-LambdaDLQ",
          `The ${name} function is only invoked synchronously (${triggers.join("; ")}); Lambda never queues its ` +
            "events, so a function dead-letter queue could never receive one. Failed batches are parked by the " +
            "mapping's own DLQ or on-failure destination.",
        );
      }
      acknowledge(
        fn,
        "AwsSolutions-L1",
        "Pinned to Node.js 22, the version the Fargate step image (node:22-slim), the local twin and CI run, so " +
          "one runtime is tested everywhere; the three move together.",
      );
      acknowledge(
        fn,
        "Serverless-LambdaLatestVersion",
        "Pinned to Node.js 22 on purpose, matching the Fargate step image and the local twin (see AwsSolutions-L1).",
      );
      byName[name] = fn;
      logGroups[name] = logGroup;
    }
    this.byName = byName;
    this.logGroups = logGroups;

    allowWildcard(this, {
      actionsOnAnyResource: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
      reason:
        "X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions; active tracing needs them on *.",
    });
  }

  get(name: FunctionName): NodejsFunction {
    return this.byName[name];
  }
}
