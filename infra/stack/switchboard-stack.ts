/**
 * The whole cloud side of Switchboard in one stack, composed from one construct per concern. Every
 * function, route, queue, stream consumer, schedule and index comes from the manifest.
 */
import { AspectPriority, Aspects, CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { type FunctionName, manifest } from "#infra/manifest";
import { ENV } from "#shared/config";
import { functionAccess, taskAccess } from "./access.ts";
import { Api } from "./api.ts";
import { type BindTargets, bindAccess } from "./bind.ts";
import { DashboardSite } from "./dashboard.ts";
import { Data } from "./data.ts";
import { Functions, functionNames } from "./functions.ts";
import { Jobs } from "./jobs.ts";
import { WildcardAllowances } from "./nag.ts";
import { Notifications } from "./notifications.ts";
import { Observability } from "./observability.ts";
import { Realtime } from "./realtime.ts";
import { Schedules } from "./schedules.ts";
import { Security } from "./security.ts";
import { readSettings, type Settings } from "./settings.ts";
import { Tasks } from "./tasks.ts";

/** The browser origins the api function echoes in `Access-Control-Allow-Origin` on proxy responses. */
export const corsOriginEnv = ENV.corsAllowOrigin;

export const stackName = (settings: Pick<Settings, "stage">) => `Switchboard-${settings.stage}`;

export class SwitchboardStack extends Stack {
  readonly settings: Settings;
  readonly security: Security;
  readonly data: Data;
  readonly functions: Functions;
  readonly jobs: Jobs;
  readonly realtime: Realtime;
  readonly site: DashboardSite;
  readonly api: Api;
  readonly tasks: Tasks;
  readonly schedules: Schedules;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    const settings = readSettings(this);
    this.settings = settings;

    this.security = new Security(this, "Security", { settings });
    this.data = new Data(this, "Data", { settings, accessLogs: this.security.accessLogs });
    this.functions = new Functions(this, "Functions", { settings });
    this.jobs = new Jobs(this, "Jobs", { functions: this.functions, table: this.data.table });
    this.realtime = new Realtime(this, "Realtime", { settings, functions: this.functions });
    this.site = new DashboardSite(this, "Dashboard", {
      settings,
      accessLogs: this.security.accessLogs,
      webAclArn: this.security.cloudFrontWebAclArn,
    });
    this.api = new Api(this, "Api", { settings, functions: this.functions, allowedOrigin: this.site.origin });
    this.security.protect(
      "ApiWebAclAssociation",
      this.api.restApi.deploymentStage.stageArn,
      this.api.restApi,
    );
    // The WebSocket stage logs through the same account-wide role the REST API sets up.
    const account = this.api.restApi.node.tryFindChild("Account");
    if (account !== undefined) this.realtime.stage.node.addDependency(account);

    this.tasks = new Tasks(this, "Tasks", { settings });
    const asyncFailures = this.functions.asyncFailures;
    if (asyncFailures === undefined)
      throw new Error("The manifest has no scheduled function; nothing runs the sweeper");
    this.schedules = new Schedules(this, "Schedules", {
      settings,
      functions: this.functions,
      failures: asyncFailures,
    });

    const targets: BindTargets = {
      table: { table: this.data.table, key: this.data.tableKey },
      queues: this.jobs.queues,
      jwtSecret: this.security.jwtSecret,
      providerKey: this.security.providerKey,
      payloads: this.data.payloads,
      connections: this.realtime.stage,
      tasks: this.tasks.binding(),
      userSchedules: this.schedules.binding(),
      vectors: this.data.vectors,
      usageKeys: { namespace: this.api.usageNamespace },
      notifications: new Notifications(this, "Notifications", { settings }).topic,
    };
    for (const name of functionNames) bindAccess(this.functions.get(name), functionAccess[name], targets);
    bindAccess(
      Object.assign(this.tasks.container, { grantPrincipal: this.tasks.taskRole }),
      taskAccess,
      targets,
    );
    const restFunctions = new Set<FunctionName>(manifest.http.routes.map((r) => r.function));
    for (const name of restFunctions)
      this.functions.get(name).addEnvironment(corsOriginEnv, this.site.origin);

    this.site.publish({ apiUrl: this.api.url, wsUrl: this.realtime.url, stage: settings.stage });

    this.observability = new Observability(this, "Observability", {
      settings,
      functions: this.functions,
      restApi: this.api.restApi,
      webSocketApi: this.realtime.api,
      queues: [...this.jobs.queues.values()].map(({ spec, queue, dlq }) => ({
        name: spec.name,
        queue,
        dlq,
        ...(spec.dlqConsumer === undefined ? {} : { dlqConsumer: spec.dlqConsumer.function }),
      })),
      streams: this.jobs.streams,
      parked: [
        { name: "async-failures", queue: asyncFailures },
        ...this.jobs.streams.map((s) => ({ name: `${s.spec.function}-stream-failures`, queue: s.failures })),
      ],
    });

    new CfnOutput(this, "ApiUrl", { value: this.api.url, description: "REST API base URL" });
    new CfnOutput(this, "WebSocketUrl", { value: this.realtime.url, description: "WebSocket URL" });
    new CfnOutput(this, "DashboardUrl", { value: this.site.origin, description: "Dashboard" });
    new CfnOutput(this, "AlarmTopicArn", { value: this.observability.topic.topicArn });
    new CfnOutput(this, "TableName", {
      value: this.data.table.tableName,
      description: "The first platform admin is written here (see DEPLOY.md)",
    });

    Aspects.of(this).add(new WildcardAllowances(), { priority: AspectPriority.READONLY });
  }
}
