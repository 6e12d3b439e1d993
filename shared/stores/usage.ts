import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Budget, UsageQuery, UsageReport, UsageTotals } from "#events/agents";
import { dynamo } from "../aws.ts";
import { nowIso, tableName } from "../db.ts";
import { badRequest } from "../errors.ts";

/**
 * Token and cost counters, added to with DynamoDB's ADD so concurrent steps never lose an update. One
 * usage partition per tenant holds: the month (`M#2026-11`, which budgets read), the day (`D#…`), the day
 * per model (`DM#<day>#<provider>/<model>`), the day per job (`DJ#<day>#<job>`), the job's total
 * (`J#<job>`), the day per agent and per workflow name (`DA#<day>#<agent>`, `DW#<day>#<workflow>`, for agent
 * steps) and the budget (`BUDGET`). Days and months are UTC.
 */
export const usageKeys = {
  pk: (tenantId: string) => `T#${tenantId}#USAGE`,
  month: (month: string) => `M#${month}`,
  day: (day: string) => `D#${day}`,
  dayModel: (day: string, model: string) => `DM#${day}#${model}`,
  dayJob: (day: string, jobId: string) => `DJ#${day}#${jobId}`,
  job: (jobId: string) => `J#${jobId}`,
  dayAgent: (day: string, agent: string) => `DA#${day}#${agent}`,
  dayWorkflow: (day: string, workflow: string) => `DW#${day}#${workflow}`,
  budget: () => "BUDGET",
};

export interface UsageRecord {
  tenantId: string;
  jobId: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** The agent's name, for an agent step. */
  agent?: string;
  /** The job's workflow name, for an agent step. */
  workflow?: string;
  /** Steps counted by this record: 1 for an agent step (the default), 0 for embedding calls. */
  steps?: number;
}

export const monthOf = (at: Date) => at.toISOString().slice(0, 7);
export const dayOf = (at: Date) => at.toISOString().slice(0, 10);

const empty = (): UsageTotals => ({ inputTokens: 0, outputTokens: 0, costUsd: 0, steps: 0 });

function totalsOf(item: Record<string, unknown> | undefined): UsageTotals {
  return {
    inputTokens: Number(item?.inputTokens ?? 0),
    outputTokens: Number(item?.outputTokens ?? 0),
    costUsd: Math.round(Number(item?.costUsd ?? 0) * 1e8) / 1e8,
    steps: Number(item?.steps ?? 0),
  };
}

function add(into: UsageTotals, more: UsageTotals): void {
  into.inputTokens += more.inputTokens;
  into.outputTokens += more.outputTokens;
  into.costUsd = Math.round((into.costUsd + more.costUsd) * 1e8) / 1e8;
  into.steps += more.steps;
}

/** Adds one step's usage to every counter it belongs to. */
export async function recordUsage(record: UsageRecord, at = new Date()): Promise<void> {
  const pk = usageKeys.pk(record.tenantId);
  const day = dayOf(at);
  const model = `${record.provider}/${record.model}`;
  const targets: { sk: string; extra: Record<string, string> }[] = [
    { sk: usageKeys.month(monthOf(at)), extra: {} },
    { sk: usageKeys.day(day), extra: {} },
    { sk: usageKeys.dayModel(day, model), extra: { model, day } },
    { sk: usageKeys.dayJob(day, record.jobId), extra: { jobId: record.jobId, day } },
    { sk: usageKeys.job(record.jobId), extra: { jobId: record.jobId } },
  ];
  if (record.agent !== undefined)
    targets.push({ sk: usageKeys.dayAgent(day, record.agent), extra: { agent: record.agent, day } });
  if (record.workflow !== undefined)
    targets.push({
      sk: usageKeys.dayWorkflow(day, record.workflow),
      extra: { workflow: record.workflow, day },
    });
  await Promise.all(
    targets.map(({ sk, extra }) => {
      const names = Object.keys(extra);
      return dynamo().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: { pk, sk },
          UpdateExpression: `ADD inputTokens :in, outputTokens :out, costUsd :cost, steps :one SET #type = :type, tenantId = :tenant, updatedAt = :now${names
            .map((name) => `, #${name} = :${name}`)
            .join("")}`,
          ExpressionAttributeNames: {
            "#type": "type",
            ...Object.fromEntries(names.map((name) => [`#${name}`, name])),
          },
          ExpressionAttributeValues: {
            ":in": record.inputTokens,
            ":out": record.outputTokens,
            ":cost": record.costUsd,
            ":one": record.steps ?? 1,
            ":type": "usage",
            ":tenant": record.tenantId,
            ":now": nowIso(at),
            ...Object.fromEntries(names.map((name) => [`:${name}`, extra[name]])),
          },
        }),
      );
    }),
  );
}

export async function monthUsage(
  tenantId: string,
  at = new Date(),
): Promise<UsageTotals & { month: string }> {
  const month = monthOf(at);
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: usageKeys.pk(tenantId), sk: usageKeys.month(month) },
    }),
  );
  return { ...totalsOf(Item), month };
}

export async function getBudget(tenantId: string): Promise<Budget | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: { pk: usageKeys.pk(tenantId), sk: usageKeys.budget() } }),
  );
  if (Item === undefined) return undefined;
  return {
    ...(typeof Item.monthlyTokens === "number" ? { monthlyTokens: Item.monthlyTokens } : {}),
    ...(typeof Item.monthlyUsd === "number" ? { monthlyUsd: Item.monthlyUsd } : {}),
    updatedAt: String(Item.updatedAt),
  };
}

/** Sets, changes or (with null) removes either limit; an omitted field keeps its value. */
export async function putBudget(
  tenantId: string,
  change: { monthlyTokens?: number | null; monthlyUsd?: number | null },
): Promise<Budget> {
  const current = (await getBudget(tenantId)) ?? {};
  const next: Budget = { updatedAt: nowIso() };
  const tokens = change.monthlyTokens === undefined ? current.monthlyTokens : change.monthlyTokens;
  const usd = change.monthlyUsd === undefined ? current.monthlyUsd : change.monthlyUsd;
  if (tokens !== null && tokens !== undefined) next.monthlyTokens = tokens;
  if (usd !== null && usd !== undefined) next.monthlyUsd = usd;
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: { pk: usageKeys.pk(tenantId), sk: usageKeys.budget(), type: "budget", tenantId, ...next },
    }),
  );
  return next;
}

/**
 * Why a new agent step may not start, or undefined when the tenant is within its budget. A budget is
 * spent when this month's usage has reached it.
 */
export function budgetProblem(
  budget: Budget | undefined,
  used: UsageTotals & { month: string },
): string | undefined {
  if (budget === undefined) return undefined;
  const tokens = used.inputTokens + used.outputTokens;
  if (budget.monthlyTokens !== undefined && tokens >= budget.monthlyTokens) {
    return `The tenant's monthly token budget is spent: ${tokens} of ${budget.monthlyTokens} tokens used in ${used.month}`;
  }
  if (budget.monthlyUsd !== undefined && used.costUsd >= budget.monthlyUsd) {
    return `The tenant's monthly budget is spent: $${used.costUsd.toFixed(4)} of $${budget.monthlyUsd} used in ${used.month}`;
  }
  return undefined;
}

async function queryRange(tenantId: string, from: string, to: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
        ExpressionAttributeValues: { ":pk": usageKeys.pk(tenantId), ":from": from, ":to": to },
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return items;
}

const MAX_REPORT_DAYS = 400;
const GROUP_PREFIX: Record<UsageQuery["groupBy"], string> = {
  day: "D#",
  model: "DM#",
  job: "DJ#",
  agent: "DA#",
  workflow: "DW#",
};
const GROUP_FIELD: Record<Exclude<UsageQuery["groupBy"], "day">, string> = {
  model: "model",
  job: "jobId",
  agent: "agent",
  workflow: "workflow",
};

export async function usageReport(
  tenantId: string,
  query: UsageQuery,
  now = new Date(),
): Promise<UsageReport> {
  const to = query.to ?? dayOf(now);
  const from = query.from ?? `${monthOf(now)}-01`;
  if (from > to) throw badRequest("from must not be after to");
  if ((Date.parse(to) - Date.parse(from)) / 86_400_000 > MAX_REPORT_DAYS) {
    throw badRequest(`A report covers at most ${MAX_REPORT_DAYS} days`);
  }
  const groups = new Map<string, UsageTotals>();
  const total = empty();
  const prefix = GROUP_PREFIX[query.groupBy];
  // `~` sorts after every character of a model name or job id, so the whole of the last day is included.
  const items = await queryRange(
    tenantId,
    `${prefix}${from}`,
    query.groupBy === "day" ? `${prefix}${to}` : `${prefix}${to}#~`,
  );
  for (const item of items) {
    const key = query.groupBy === "day" ? String(item.sk).slice(2) : String(item[GROUP_FIELD[query.groupBy]]);
    const totals = totalsOf(item);
    const group = groups.get(key) ?? empty();
    add(group, totals);
    groups.set(key, group);
    add(total, totals);
  }
  const [month, budget] = await Promise.all([monthUsage(tenantId, now), getBudget(tenantId)]);
  return {
    from,
    to,
    groupBy: query.groupBy,
    items: [...groups.entries()]
      .map(([key, totals]) => ({ key, ...totals }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    total,
    month,
    ...(budget === undefined ? {} : { budget }),
  };
}
