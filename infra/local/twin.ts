import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { type FunctionName, manifest } from "#infra/manifest";
import {
  USAGE_PLANS,
  type UsagePlanLimits,
  type UsagePlanName,
  usagePlanLimits,
  usagePlanName,
} from "#infra/stack/limits";
import { ENV } from "#shared/config";
import { withoutRequestLog } from "#shared/sdk";
import { createApiGateway, usagePlanId } from "./aws-services/api-gateway.ts";
import { createEcs } from "./aws-services/ecs.ts";
import { createKms } from "./aws-services/kms.ts";
import { createS3Vectors } from "./aws-services/s3vectors.ts";
import { createScheduler } from "./aws-services/scheduler.ts";
import { startSchedulerFiring } from "./aws-services/scheduler-firing.ts";
import { createSecretsManager } from "./aws-services/secrets-manager.ts";
import { type AwsServicesServer, startAwsServices } from "./aws-services/server.ts";
import { createSns, type PublishedMessage } from "./aws-services/sns.ts";
import { createSqsFront } from "./aws-services/sqs.ts";
import { bootstrapAdmin } from "./bootstrap-admin.ts";
import { adminCredentials, ensureDataDir, jwtSecret } from "./data-dir.ts";
import { type DynamoDbLocal, runningDynamoDbLocal, startDynamoDbLocal } from "./dynamodb-local.ts";
import {
  applyEnvironment,
  JWT_SECRET_ID,
  NOTIFICATIONS_TOPIC_ARN,
  PAYLOAD_BUCKET,
  REGION,
  SCHEDULE_GROUP,
  TABLE_NAME,
  type TwinEndpoints,
  twinEnvironment,
  USAGE_NAMESPACE,
  VECTOR_BUCKET,
} from "./env.ts";
import { type FunctionOverrides, FunctionRunner } from "./functions.ts";
import { type Gateway, startGateway, WEBSOCKET_PATH } from "./gateway.ts";
import { ACCOUNT_ID } from "./lambda-context.ts";
import { createLogger, type Logger } from "./log.ts";
import { previousPort, rememberPort } from "./ports.ts";
import { ensureQueues, type LocalQueue, localConcurrency, type QueueOverrides } from "./queues.ts";
import { startSchedules } from "./schedules.ts";
import { SqsPoller } from "./sqs-poller.ts";
import { StreamPoller } from "./stream-poller.ts";
import { ensureTable } from "./table.ts";

export type { FunctionOverrides, LambdaHandler } from "./functions.ts";
export type { QueueOverrides } from "./queues.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const DLQ_CONCURRENCY = 2;

export interface TwinOptions {
  /** Port of the gateway; 0 picks a free one. Default 0. */
  port?: number;
  /** Where DynamoDB data and generated secrets live. Default `.data` in the working directory. */
  dataDir?: string;
  adminEmail?: string;
  /** Used as given; when unset, one is generated on the first start and kept in `<dataDir>/admin-password`. */
  adminPassword?: string;
  /** No logs (set TWIN_DEBUG=1 to see errors anyway). */
  quiet?: boolean;
  /** Create the platform admin through `shared/bootstrap.ts`. Default true. */
  bootstrap?: boolean;
  /** Handlers to use instead of the manifest's entry points. */
  functions?: FunctionOverrides;
  /** Import the entry points of functions that are not overridden. Default true. */
  loadEntries?: boolean;
  /** Serve the dashboard from `web/dist`. Default true. */
  web?: boolean;
  /**
   * Origin of a dashboard served by another server, as CloudFront serves it in AWS: the first of the
   * API's allowed origins. The twin's own `http://localhost:<port>` and `http://127.0.0.1:<port>` follow.
   */
  dashboardOrigin?: string;
  /** Per queue name, settings that tests shorten (the visibility timeout, the receives before the DLQ). */
  queueOverrides?: Record<string, QueueOverrides>;
  /** Per function, a timeout in seconds that tests shorten; otherwise the manifest's, as the stack sets it. */
  functionTimeouts?: Partial<Record<FunctionName, number>>;
  /** Per usage plan, limits that tests lower; otherwise infra/stack/limits.ts, as the stack sets them. */
  usagePlans?: Partial<Record<UsagePlanName, UsagePlanLimits>>;
  /**
   * A DynamoDB Local that is already running (started without `-sharedDb`), to use instead of starting one.
   * It keeps one database per access key, so `accessKeyId` (letters and digits) gives this twin its own
   * tables; the twin neither supervises nor stops that process. The test suites share one this way.
   */
  dynamodb?: { endpoint: string; accessKeyId: string };
  /** Start DynamoDB Local with its tables in memory: faster, and nothing is kept (the bench). */
  dynamodbInMemory?: boolean;
}

export interface Twin {
  /** `http://localhost:<port>`: dashboard, REST API, `/config.json`. */
  url: string;
  /** `ws://localhost:<port>/ws`. */
  wsUrl: string;
  port: number;
  dataDir: string;
  /** What the functions see in `process.env`, set by the twin. */
  env: Record<string, string>;
  endpoints: TwinEndpoints;
  tableName: string;
  streamArn: string;
  queues: Record<string, LocalQueue>;
  fauxqs: FauxqsServer;
  /** What was published to the notifications topic (also in `<dataDir>/sns/notifications.jsonl`). */
  published: readonly PublishedMessage[];
  /** The bootstrap admin; `password` is shown only when it was generated by this start. */
  admin?: { email: string; password?: string; generated: boolean; created: boolean };
  /** Invokes a function as its trigger would, with a full Lambda context. */
  invoke<T = unknown>(name: FunctionName, event: unknown): Promise<T>;
  startupMs: number;
  /** DynamoDB Local's Java process (the current one, after a restart). */
  dynamoPid(): number | undefined;
  stop(): Promise<void>;
}

async function startFauxqsOn(preferred: number | undefined): Promise<FauxqsServer> {
  if (preferred) {
    try {
      return await startFauxqs({ port: preferred, logger: false });
    } catch {
      // Taken since the last twin stopped: any port will do.
    }
  }
  return startFauxqs({ port: 0, logger: false });
}

/** Runs the whole platform on loopback: the same handlers as in AWS, behind local stand-ins for each service. */
export async function startTwin(options: TwinOptions = {}): Promise<Twin> {
  const started = performance.now();
  const startedAt = new Date();
  // While a supervised emulator is restarting, its dependants' errors say only what its supervisor said.
  let outage = (): boolean => false;
  const log = quietDuring(createLogger({ quiet: options.quiet }), () => outage());
  const dataDir = resolve(options.dataDir ?? ".data");
  await ensureDataDir(dataDir);
  const stops: Array<() => Promise<void>> = [];
  let gateway: Gateway | undefined;

  try {
    // The JVM is the slow part of a start; everything else runs while it boots.
    const dynamoStart =
      options.dynamodb === undefined
        ? startDynamoDbLocal({
            dataDir,
            preferredPort: previousPort("dynamodb"),
            log: log.child("dynamodb"),
            inMemory: options.dynamodbInMemory === true,
          })
        : Promise.resolve(runningDynamoDbLocal(options.dynamodb.endpoint));
    const accessKeyId = options.dynamodb?.accessKeyId ?? "twin";
    const fauxqsStart = startFauxqsOn(previousPort("fauxqs"));
    const [dynamoResult, fauxqsResult, secretResult] = await Promise.allSettled([
      dynamoStart,
      fauxqsStart,
      jwtSecret(dataDir),
    ]);
    if (dynamoResult.status === "fulfilled") stops.push(() => dynamoResult.value.stop());
    if (fauxqsResult.status === "fulfilled") stops.push(() => fauxqsResult.value.stop());
    for (const result of [dynamoResult, fauxqsResult, secretResult]) {
      if (result.status === "rejected") throw result.reason;
    }
    const dynamo = (dynamoResult as PromiseFulfilledResult<DynamoDbLocal>).value;
    outage = () => dynamo.restarting;
    const fauxqs = (fauxqsResult as PromiseFulfilledResult<FauxqsServer>).value;
    const secret = (secretResult as PromiseFulfilledResult<{ value: string; createdAt: Date }>).value;

    let awsServicesUrl = "";
    const scheduler = createScheduler({
      region: REGION,
      groups: [SCHEDULE_GROUP],
      file: join(dataDir, "scheduler", "schedules.json"),
    });
    // Fargate tasks: the task entry point in a child process, as the container image would run it.
    const ecs = createEcs({
      region: REGION,
      command: {
        executable: process.execPath,
        args: ["--import", "tsx", resolve(ROOT, "functions/tasks/step-task.ts")],
        cwd: ROOT,
      },
      log: log.child("ecs"),
    });
    // The stack's usage plans, on the twin's one stage; the keys in them are the application's to create.
    const apiInfo = { region: REGION, apiId: "local", stage: "local" };
    const apiGateway = createApiGateway({
      file: join(dataDir, "apigateway", "keys.json"),
      plans: USAGE_PLANS.map((plan) => {
        const name = usagePlanName(USAGE_NAMESPACE, plan);
        return {
          id: usagePlanId(name),
          name,
          description: `Limits of the ${plan} plan`,
          apiStages: [{ apiId: apiInfo.apiId, stage: apiInfo.stage }],
          limits: options.usagePlans?.[plan] ?? usagePlanLimits[plan],
        };
      }),
    });
    const s3vectors = createS3Vectors({ region: REGION, dataDir });
    s3vectors.ensureBucket(VECTOR_BUCKET);
    const sns = createSns({
      topics: [{ arn: NOTIFICATIONS_TOPIC_ARN, file: join(dataDir, "sns", "notifications.jsonl") }],
    });
    const awsServices: AwsServicesServer = await startAwsServices({
      restServices: [scheduler.service, s3vectors.service, apiGateway.service, sns.service],
      jsonServices: [
        createSecretsManager({
          region: REGION,
          secrets: [{ name: JWT_SECRET_ID, value: secret.value, createdAt: secret.createdAt }],
        }),
        createSqsFront({
          fauxqsPort: fauxqs.port,
          publicOrigin: () => awsServicesUrl,
          defaultRegion: REGION,
        }),
        (await createKms({ region: REGION, dataDir })).service,
        ecs,
      ],
      preferredPort: previousPort("aws-services"),
      log: log.child("aws"),
    });
    awsServicesUrl = awsServices.url;
    stops.push(() => awsServices.close());
    stops.push(() => ecs.stopAll());

    const functions = new FunctionRunner({
      root: ROOT,
      region: REGION,
      overrides: options.functions ?? {},
      loadEntries: options.loadEntries ?? true,
      ...(options.functionTimeouts === undefined ? {} : { timeouts: options.functionTimeouts }),
      log: log.child("lambda"),
    });
    gateway = await startGateway({
      port: options.port ?? 0,
      preferredPort: previousPort("gateway"),
      functions,
      info: apiInfo,
      usage: apiGateway,
      webRoot: resolve(ROOT, "web/dist"),
      web: options.web ?? true,
      ...(options.dashboardOrigin === undefined ? {} : { dashboardOrigin: options.dashboardOrigin }),
      log: log.child("gateway"),
    });
    const openGateway = gateway;
    stops.push(() => openGateway.close());

    const endpoints: TwinEndpoints = {
      dynamodb: dynamo.endpoint,
      sqs: awsServices.url,
      s3: `http://127.0.0.1:${fauxqs.port}`,
      awsServices: awsServices.url,
      gateway: `http://127.0.0.1:${gateway.port}`,
    };
    const queueUrl = (name: string) => `${awsServices.url}/${ACCOUNT_ID}/${name}`;
    const queueUrls: Record<string, string> = {};
    for (const spec of manifest.queues) {
      queueUrls[spec.urlEnv] = queueUrl(spec.name);
      queueUrls[spec.dlq.urlEnv] = queueUrl(spec.dlq.name);
    }
    const env = {
      ...twinEnvironment(endpoints, queueUrls, accessKeyId),
      [ENV.corsAllowOrigin]: gateway.allowedOrigins.join(","),
    };
    applyEnvironment(env);

    const credentials = { accessKeyId, secretAccessKey: "twin" };
    const dynamodb = withoutRequestLog(
      new DynamoDBClient({ endpoint: dynamo.endpoint, region: REGION, credentials }),
    );
    const streams = withoutRequestLog(
      new DynamoDBStreamsClient({ endpoint: dynamo.endpoint, region: REGION, credentials }),
    );
    const sqs = withoutRequestLog(new SQSClient({ endpoint: awsServices.url, region: REGION, credentials }));
    stops.push(async () => {
      dynamodb.destroy();
      streams.destroy();
      sqs.destroy();
    });

    const [table, queues] = await Promise.all([
      dynamo.ready.then(() => ensureTable(dynamodb, TABLE_NAME)),
      ensureQueues(sqs, manifest.queues, options.queueOverrides),
      Promise.resolve(fauxqs.createBucket(PAYLOAD_BUCKET)),
      functions.loadAll(),
    ]);
    for (const queue of queues) {
      if (queue.url !== queueUrl(queue.spec.name))
        throw new Error(`Queue ${queue.spec.name} got URL ${queue.url}`);
    }

    const streamPollers = manifest.streams.map(
      (consumer) =>
        new StreamPoller({
          streams,
          streamArn: table.streamArn,
          region: REGION,
          consumer,
          startAt: table.created ? "TRIM_HORIZON" : "LATEST",
          functions,
          log: log.child("stream"),
        }),
    );
    await Promise.all(streamPollers.map((poller) => poller.start()));
    stops.push(async () => {
      await Promise.all(streamPollers.map((poller) => poller.stop()));
    });

    const sqsPollers = queues.flatMap((queue) => {
      const pollerLog = log.child("sqs");
      const pollers = [
        new SqsPoller({
          sqs,
          queueUrl: queue.url,
          queueArn: queue.arn,
          region: REGION,
          functionName: queue.spec.consumer.function,
          batchSize: queue.spec.consumer.batchSize,
          batchingWindowSeconds: queue.spec.consumer.maxBatchingWindowSeconds,
          concurrency: localConcurrency(queue.spec, options.queueOverrides?.[queue.spec.name]),
          functions,
          log: pollerLog,
        }),
      ];
      if (queue.spec.dlqConsumer) {
        pollers.push(
          new SqsPoller({
            sqs,
            queueUrl: queue.dlqUrl,
            queueArn: queue.dlqArn,
            region: REGION,
            functionName: queue.spec.dlqConsumer.function,
            batchSize: queue.spec.dlqConsumer.batchSize,
            batchingWindowSeconds: 0,
            concurrency: DLQ_CONCURRENCY,
            functions,
            log: pollerLog,
          }),
        );
      }
      return pollers;
    });
    for (const poller of sqsPollers) poller.start();
    stops.push(async () => {
      await Promise.all(sqsPollers.map((poller) => poller.stop()));
    });

    const schedules = startSchedules({
      schedules: manifest.schedules,
      region: REGION,
      functions,
      log: log.child("schedule"),
    });
    stops.push(() => schedules.stop());
    // Whatever ran steps before this start is gone, and the queues' messages with it (they live in memory):
    // the recovery sweep sends the interrupted attempts again now rather than after their leases run out.
    const recovery = functions
      .invoke("sweeper", { detail: { restartedAt: startedAt.toISOString() } })
      .catch((error) =>
        log.error("the recovery sweep failed; the scheduled sweeps will heal instead", error),
      );
    stops.push(() => recovery.then(() => undefined));
    const userSchedules = startSchedulerFiring({ scheduler, functions, log: log.child("scheduler") });
    stops.push(() => userSchedules.stop());

    let admin: Twin["admin"];
    if (options.bootstrap ?? true) {
      const credentials = await adminCredentials(
        dataDir,
        options.adminEmail ?? "admin@localhost",
        options.adminPassword,
      );
      const { created } = await bootstrapAdmin(credentials, log.child("bootstrap"));
      admin = {
        email: credentials.email,
        generated: credentials.generated && created,
        created,
        ...(credentials.generated && created ? { password: credentials.password } : {}),
      };
    }

    gateway.open();
    for (const [component, port] of [
      ...(options.dynamodb === undefined ? ([["dynamodb", dynamo.port]] as const) : []),
      ["fauxqs", fauxqs.port],
      ["aws-services", awsServices.port],
      ["gateway", gateway.port],
    ] as const) {
      rememberPort(component, port);
    }

    const port = gateway.port;
    const startupMs = Math.round(performance.now() - started);
    let stopping: Promise<void> | undefined;
    return {
      url: `http://localhost:${port}`,
      wsUrl: `ws://localhost:${port}${WEBSOCKET_PATH}`,
      port,
      dataDir,
      env,
      endpoints,
      tableName: TABLE_NAME,
      streamArn: table.streamArn,
      queues: Object.fromEntries(queues.map((queue) => [queue.spec.name, queue])),
      fauxqs,
      published: sns.published,
      admin,
      invoke: (name, event) => functions.invoke(name, event),
      startupMs,
      dynamoPid: () => dynamo.pid(),
      stop() {
        stopping ??= stopAll(stops, log);
        return stopping;
      },
    };
  } catch (error) {
    gateway?.fail(error instanceof Error ? error : new Error(String(error)));
    await stopAll(stops, log);
    throw error;
  }
}

/**
 * Drops error lines while `outage()` holds and counts them: a dead emulator otherwise turns every poll into
 * an ECONNREFUSED stack trace. The dead component's own supervisor logs under "dynamodb", which stays loud.
 */
function quietDuring(log: Logger, outage: () => boolean, component = "twin"): Logger {
  let dropped = 0;
  return {
    info: (message) => {
      if (dropped > 0 && !outage()) {
        log.warn(`${dropped} error(s) while an emulator was down were not shown`);
        dropped = 0;
      }
      log.info(message);
    },
    warn: (message) => log.warn(message),
    error: (message, error) => {
      if (component !== "dynamodb" && outage()) {
        dropped++;
        return;
      }
      log.error(message, error);
    },
    child: (name) => quietDuring(log.child(name), outage, name),
  };
}

/** Stops in reverse order of start: event sources first, so nothing is invoked once its services are gone. */
async function stopAll(stops: Array<() => Promise<void>>, log: Logger): Promise<void> {
  for (const stop of stops.reverse()) {
    try {
      await stop();
    } catch (error) {
      log.error("error while stopping", error);
    }
  }
}
