/**
 * Commands for the resources that are plain lists and documents (agents, tools, MCP servers, collections,
 * sessions, notification targets, secrets, memory, schedules, users, usage, limits, settings, stats, audit,
 * system): each is a route of the contract, called through the typed client by its
 * operation id, with a table for people and `--output json` for programs.
 */
import type { RouteId } from "#events/routes";
import { UsageError } from "../args.ts";
import { type Command, type Context, parseJson, readSource, stringOption } from "../context.ts";
import { table } from "../output.ts";

type Row = Record<string, unknown>;
type Column = readonly [header: string, cell: (item: Row) => unknown];

const fileOption = {
  file: {
    type: "string",
    short: "f",
    value: "path|-",
    description: "The JSON body, from a file or - for stdin (required)",
  },
} as const;

async function call(context: Context, id: RouteId, input?: unknown): Promise<unknown> {
  const client = await context.client();
  return (client.api[id] as (input?: unknown) => Promise<unknown>)(input);
}

async function body(context: Context, args: Parameters<Command["run"]>[1], command: string) {
  const source = stringOption(args, "file");
  if (source === undefined) throw new UsageError("Give the body with --file <path> or --file -", command);
  return parseJson(await readSource(context.io, source), "The body");
}

function show(context: Context, value: unknown, columns: readonly Column[]): void {
  if (context.json) {
    context.printJson(value);
    return;
  }
  const items = (
    value !== null && typeof value === "object" && "items" in value
      ? (value as { items: unknown }).items
      : [value]
  ) as Row[];
  context.print(
    table(
      columns.map(([header]) => header),
      items.map((item) => columns.map(([, cell]) => cell(item))),
    ),
  );
}

interface ResourceSpec {
  /** The command word: `agents`. */
  name: string;
  /** The path parameter's name and what it is: `id`, `name`. */
  key?: { param: string; description: string };
  list?: RouteId;
  get?: RouteId;
  create?: RouteId;
  update?: RouteId;
  remove?: RouteId;
  columns: readonly Column[];
}

const field =
  (name: string) =>
  (item: Row): unknown =>
    item[name];

function resource(spec: ResourceSpec): Command[] {
  const key = spec.key ?? { param: "id", description: "Its id (or name, where the API takes one)" };
  const positional = [{ name: key.param, description: key.description }];
  const params = (args: Parameters<Command["run"]>[1]) => ({ [key.param]: args.positionals[0] as string });
  const commands: Command[] = [];
  if (spec.list !== undefined) {
    const id = spec.list;
    commands.push({
      path: [spec.name, "list"],
      summary: `List ${spec.name}`,
      options: { cursor: { type: "string", value: "cursor", description: "Continue after an earlier page" } },
      async run(context, args) {
        const cursor = stringOption(args, "cursor");
        const page = await call(context, id, cursor === undefined ? {} : { query: { cursor } });
        show(context, page, spec.columns);
        const next = (page as { cursor?: string }).cursor;
        if (!context.json && next !== undefined) context.warn(`More: --cursor ${next}`);
        return 0;
      },
    });
  }
  if (spec.get !== undefined) {
    const id = spec.get;
    commands.push({
      path: [spec.name, "get"],
      summary: `Show one of the ${spec.name}`,
      positionals: positional,
      async run(context, args) {
        context.printJson(await call(context, id, { params: params(args) }));
        return 0;
      },
    });
  }
  if (spec.create !== undefined) {
    const id = spec.create;
    commands.push({
      path: [spec.name, "create"],
      summary: `Create one of the ${spec.name} from a JSON body`,
      options: fileOption,
      examples: [`switchboard ${spec.name} create --file ${spec.name}.json`],
      async run(context, args) {
        show(
          context,
          await call(context, id, { body: await body(context, args, `${spec.name} create`) }),
          spec.columns,
        );
        return 0;
      },
    });
  }
  if (spec.update !== undefined) {
    const id = spec.update;
    commands.push({
      path: [spec.name, "update"],
      summary: `Change one of the ${spec.name} from a JSON body`,
      positionals: positional,
      options: fileOption,
      async run(context, args) {
        const updated = await call(context, id, {
          params: params(args),
          body: await body(context, args, `${spec.name} update`),
        });
        show(context, updated, spec.columns);
        return 0;
      },
    });
  }
  if (spec.remove !== undefined) {
    const id = spec.remove;
    commands.push({
      path: [spec.name, "delete"],
      summary: `Delete one of the ${spec.name}`,
      positionals: positional,
      async run(context, args) {
        await call(context, id, { params: params(args) });
        if (context.json) context.printJson({ [key.param]: args.positionals[0], deleted: true });
        else context.print(`Deleted ${args.positionals[0]}`);
        return 0;
      },
    });
  }
  return commands;
}

function single(path: readonly string[], summary: string, id: RouteId, columns: readonly Column[]): Command {
  return {
    path,
    summary,
    async run(context) {
      show(context, await call(context, id), columns);
      return 0;
    },
  };
}

export const resourceCommands: Command[] = [
  ...resource({
    name: "agents",
    list: "listAgents",
    get: "getAgent",
    create: "createAgent",
    update: "updateAgent",
    remove: "deleteAgent",
    columns: [
      ["ID", field("id")],
      ["NAME", field("name")],
      ["PROVIDER", field("provider")],
      ["MODEL", field("model")],
      ["UPDATED", field("updatedAt")],
    ],
  }),
  ...resource({
    name: "tools",
    list: "listTools",
    get: "getTool",
    create: "createTool",
    update: "updateTool",
    remove: "deleteTool",
    columns: [
      ["ID", field("id")],
      ["NAME", field("name")],
      ["KIND", field("kind")],
      ["DESCRIPTION", field("description")],
    ],
  }),
  ...resource({
    name: "secrets",
    key: { param: "name", description: "The secret's name" },
    list: "listSecrets",
    create: "createSecret",
    remove: "deleteSecret",
    columns: [
      ["NAME", field("name")],
      ["UPDATED", field("updatedAt")],
    ],
  }),
  ...resource({
    name: "schedules",
    list: "listSchedules",
    get: "getSchedule",
    create: "createSchedule",
    update: "updateSchedule",
    remove: "deleteSchedule",
    columns: [
      ["ID", field("id")],
      ["NAME", field("name")],
      ["WORKFLOW", field("workflowId")],
      ["EXPRESSION", field("expression")],
      ["ENABLED", field("enabled")],
    ],
  }),
  ...resource({
    name: "users",
    list: "listUsers",
    get: "getUser",
    create: "createUser",
    update: "updateUser",
    remove: "deleteUser",
    columns: [
      ["ID", field("id")],
      ["EMAIL", field("email")],
      ["ROLE", field("role")],
      ["DISABLED", field("disabled")],
    ],
  }),
  {
    path: ["memory", "list"],
    summary: "List the keys of a memory namespace",
    positionals: [{ name: "namespace", description: "The namespace" }],
    async run(context, args) {
      const page = await call(context, "listMemoryKeys", { params: { namespace: args.positionals[0] } });
      show(context, page, [
        ["KEY", field("key")],
        ["UPDATED", field("updatedAt")],
      ]);
      return 0;
    },
  },
  {
    path: ["memory", "get"],
    summary: "Show a memory entry",
    positionals: [
      { name: "namespace", description: "The namespace" },
      { name: "key", description: "The key" },
    ],
    async run(context, args) {
      const [namespace, key] = args.positionals;
      context.printJson(await call(context, "getMemory", { params: { namespace, key } }));
      return 0;
    },
  },
  {
    path: ["memory", "put"],
    summary: "Store a JSON value under namespace/key",
    positionals: [
      { name: "namespace", description: "The namespace" },
      { name: "key", description: "The key" },
    ],
    options: fileOption,
    async run(context, args) {
      const [namespace, key] = args.positionals;
      const value = await body(context, args, "memory put");
      context.printJson(await call(context, "putMemory", { params: { namespace, key }, body: { value } }));
      return 0;
    },
  },
  {
    path: ["memory", "delete"],
    summary: "Delete a memory entry",
    positionals: [
      { name: "namespace", description: "The namespace" },
      { name: "key", description: "The key" },
    ],
    async run(context, args) {
      const [namespace, key] = args.positionals;
      await call(context, "deleteMemory", { params: { namespace, key } });
      context.print(`Deleted ${namespace}/${key}`);
      return 0;
    },
  },
  ...resource({
    name: "mcp-servers",
    list: "listMcpServers",
    get: "getMcpServer",
    create: "createMcpServer",
    remove: "deleteMcpServer",
    columns: [
      ["ID", field("id")],
      ["NAME", field("name")],
      ["URL", field("url")],
      ["TOOLS", (item) => (item.tools as unknown[] | undefined)?.length],
    ],
  }),
  ...resource({
    name: "collections",
    key: { param: "name", description: "The collection's name" },
    list: "listCollections",
    get: "getCollection",
    create: "createCollection",
    remove: "deleteCollection",
    columns: [
      ["NAME", field("name")],
      ["DOCUMENTS", field("documents")],
      ["CREATED", field("createdAt")],
    ],
  }),
  ...resource({
    name: "sessions",
    list: "listSessions",
    get: "getSession",
    create: "createSession",
    remove: "deleteSession",
    columns: [
      ["ID", field("id")],
      ["AGENT", field("agent")],
      ["UPDATED", field("updatedAt")],
    ],
  }),
  ...resource({
    name: "notification-targets",
    list: "listNotificationTargets",
    get: "getNotificationTarget",
    create: "createNotificationTarget",
    remove: "deleteNotificationTarget",
    columns: [
      ["ID", field("id")],
      ["TYPE", field("type")],
      ["URL", field("url")],
      ["EVENTS", (item) => (item.events as string[] | undefined)?.join(",")],
    ],
  }),
  single(["limits", "show"], "Tokens-per-minute and dollars-per-job limits", "getLimits", [
    ["TOKENS/MIN", field("tokensPerMinute")],
    ["JOB USD", field("jobUsd")],
    ["AGENTS", (item) => (item.agents as unknown[] | undefined)?.length],
  ]),
  single(["settings", "show"], "The tenant's settings", "getTenantSettings", [
    ["RESOURCE ACCESS", field("resourceAccess")],
  ]),
  single(
    ["stats", "jobs"],
    "Jobs of the last day: counts by status, p50/p95 duration, failure rate",
    "jobStats",
    [
      ["JOBS", (item) => (item.total as { total?: number } | undefined)?.total],
      ["P50 MS", (item) => (item.total as { p50Ms?: number } | undefined)?.p50Ms],
      ["P95 MS", (item) => (item.total as { p95Ms?: number } | undefined)?.p95Ms],
      ["FAILURE RATE", (item) => (item.total as { failureRate?: number } | undefined)?.failureRate],
    ],
  ),
  single(["usage", "show"], "Agent tokens and cost, by day, with this month's total and budget", "getUsage", [
    ["DAY", (item) => JSON.stringify(item.items ?? item.totals ?? item)],
  ]),
  single(["usage", "budget"], "The tenant's monthly budget", "getBudget", [
    ["MONTHLY USD", field("monthlyUsd")],
    ["MONTHLY TOKENS", field("monthlyTokens")],
  ]),
  single(["audit", "list"], "The audit log, newest first", "listAudit", [
    ["AT", field("at")],
    ["ACTOR", field("actorId")],
    ["ACTION", field("action")],
    ["RESOURCE", field("resource")],
    ["STATUS", field("status")],
  ]),
  single(["system", "status"], "Queue depths, dead letters and providers", "systemStatus", [
    ["VERSION", field("version")],
    ["DEAD LETTERS", (item) => (item.dlq as { count?: number } | undefined)?.count],
    ["QUEUES", (item) => (item.queues as unknown[] | undefined)?.length],
  ]),
  single(["system", "dlq"], "Dead-lettered steps", "listDeadLetters", [
    ["JOB", field("jobId")],
    ["NODE", field("nodeId")],
    ["REASON", field("reason")],
    ["AT", field("deadLetteredAt")],
  ]),
];
