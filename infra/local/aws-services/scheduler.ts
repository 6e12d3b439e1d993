import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  isValidTimeZone,
  nextFireTimes,
  parseScheduleExpression,
  type ScheduleExpression,
  ScheduleExpressionError,
} from "#shared/schedules/expression";
import { AwsServiceError, type RawRequest, type RawResponse, type RestService } from "./protocol.ts";

/**
 * EventBridge Scheduler, the operations the application uses: CreateSchedule, UpdateSchedule, GetSchedule and
 * DeleteSchedule (REST-JSON, `/schedules/{Name}`). It keeps the schedules (in a file under the data directory,
 * so they survive a restart as the table does) and works out when each fires; `scheduler-firing.ts` fires them.
 */

const ACCOUNT = "000000000000";
const NAME = /^[0-9a-zA-Z-_.]{1,64}$/;

export interface LocalSchedule {
  name: string;
  groupName: string;
  expression: string;
  timezone: string;
  state: "ENABLED" | "DISABLED";
  description?: string;
  startDate?: number;
  endDate?: number;
  flexibleTimeWindow: { Mode: string; MaximumWindowInMinutes?: number };
  target: Record<string, unknown> & { Arn: string; RoleArn: string; Input?: string };
  actionAfterCompletion: "NONE" | "DELETE";
  /** Epoch ms. */
  creationDate: number;
  lastModificationDate: number;
  /** Epoch ms of the next firing; undefined when it will not fire again. */
  nextFireAt?: number;
}

export interface LocalScheduler {
  service: RestService;
  /** Every schedule, in no order. */
  list(): LocalSchedule[];
  get(groupName: string, name: string): LocalSchedule | undefined;
  /**
   * After a firing: books the next one after `after`, or removes a finished schedule whose action after
   * completion is DELETE.
   */
  fired(schedule: LocalSchedule, after: number): void;
  arnOf(schedule: Pick<LocalSchedule, "groupName" | "name">): string;
}

function validation(message: string): AwsServiceError {
  return new AwsServiceError("ValidationException", message, 400);
}

function scheduleArn(region: string, groupName: string, name: string): string {
  return `arn:aws:scheduler:${region}:${ACCOUNT}:schedule/${groupName}/${name}`;
}

function parseExpression(expression: unknown): ScheduleExpression {
  if (typeof expression !== "string" || expression.length < 1 || expression.length > 256) {
    throw validation(
      "1 validation error detected: Value at 'scheduleExpression' failed to satisfy constraint: Member must have length between 1 and 256",
    );
  }
  try {
    return parseScheduleExpression(expression);
  } catch (error) {
    if (error instanceof ScheduleExpressionError)
      throw validation(`Invalid Schedule Expression ${expression}: ${error.message}`);
    throw error;
  }
}

/** The first firing after `after`: for rate(), counted from the start date, or from the last write. */
export function nextFireAfter(schedule: LocalSchedule, after: number): number | undefined {
  const parsed = parseScheduleExpression(schedule.expression);
  const start = schedule.startDate ?? schedule.lastModificationDate;
  // A start date in the future holds every kind of schedule back until then.
  const from = Math.max(after, (schedule.startDate ?? Number.NEGATIVE_INFINITY) - 1);
  const [next] = nextFireTimes(parsed, {
    timeZone: schedule.timezone,
    after: new Date(from),
    count: 1,
    start: new Date(start),
  });
  if (next === undefined) return undefined;
  if (schedule.endDate !== undefined && next.getTime() > schedule.endDate) return undefined;
  return next.getTime();
}

function epochMs(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) throw validation(`${field} must be a timestamp`);
  return Math.round(value * 1000);
}

/** The request body as the SDK sends it for CreateSchedule and UpdateSchedule, checked as the service does. */
function readDefinition(
  body: Record<string, unknown>,
  name: string,
  now: number,
  previous?: LocalSchedule,
): LocalSchedule {
  const parsed = parseExpression(body.ScheduleExpression);
  const timezone = body.ScheduleExpressionTimezone ?? "UTC";
  if (typeof timezone !== "string" || !isValidTimeZone(timezone)) {
    throw validation(`Invalid time zone: ${String(timezone)}`);
  }
  const window = body.FlexibleTimeWindow as { Mode?: unknown; MaximumWindowInMinutes?: unknown } | undefined;
  if (window === undefined || (window.Mode !== "OFF" && window.Mode !== "FLEXIBLE")) {
    throw validation(
      "1 validation error detected: Value at 'flexibleTimeWindow.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, FLEXIBLE]",
    );
  }
  if (window.Mode === "FLEXIBLE") {
    const minutes = window.MaximumWindowInMinutes;
    if (typeof minutes !== "number" || minutes < 1 || minutes > 1440) {
      throw validation("MaximumWindowInMinutes must be between 1 and 1440 when the mode is FLEXIBLE");
    }
  }
  const target = body.Target as LocalSchedule["target"] | undefined;
  if (target === undefined || typeof target.Arn !== "string" || typeof target.RoleArn !== "string") {
    throw validation(
      "1 validation error detected: Value at 'target' failed to satisfy constraint: Arn and RoleArn are required",
    );
  }
  if (target.Input !== undefined && (typeof target.Input !== "string" || target.Input.length > 8192)) {
    throw validation("Target Input must be a string of at most 8192 characters");
  }
  const state = body.State ?? "ENABLED";
  if (state !== "ENABLED" && state !== "DISABLED") throw validation(`Invalid State ${String(state)}`);
  const action = body.ActionAfterCompletion ?? "NONE";
  if (action !== "NONE" && action !== "DELETE")
    throw validation(`Invalid ActionAfterCompletion ${String(action)}`);
  const startDate = epochMs(body.StartDate, "StartDate");
  const endDate = epochMs(body.EndDate, "EndDate");
  if (startDate !== undefined && endDate !== undefined && endDate <= startDate) {
    throw validation("The EndDate must be after the StartDate");
  }
  if (parsed.kind === "at" && (startDate !== undefined || endDate !== undefined)) {
    throw validation("StartDate and EndDate are not supported for one-time schedules");
  }
  const schedule: LocalSchedule = {
    name,
    groupName: typeof body.GroupName === "string" && body.GroupName !== "" ? body.GroupName : "default",
    expression: String(body.ScheduleExpression),
    timezone,
    state,
    ...(typeof body.Description === "string" ? { description: body.Description } : {}),
    ...(startDate === undefined ? {} : { startDate }),
    ...(endDate === undefined ? {} : { endDate }),
    flexibleTimeWindow: window as LocalSchedule["flexibleTimeWindow"],
    target,
    actionAfterCompletion: action,
    creationDate: previous?.creationDate ?? now,
    lastModificationDate: now,
  };
  // The first firing of a new or changed schedule: rate() fires at once (its start), the others at their next time.
  const next = nextFireAfter(schedule, now - 1);
  if (next !== undefined) schedule.nextFireAt = next;
  return schedule;
}

function toOutput(region: string, schedule: LocalSchedule): Record<string, unknown> {
  return {
    Arn: scheduleArn(region, schedule.groupName, schedule.name),
    GroupName: schedule.groupName,
    Name: schedule.name,
    ScheduleExpression: schedule.expression,
    ScheduleExpressionTimezone: schedule.timezone,
    State: schedule.state,
    ...(schedule.description === undefined ? {} : { Description: schedule.description }),
    ...(schedule.startDate === undefined ? {} : { StartDate: schedule.startDate / 1000 }),
    ...(schedule.endDate === undefined ? {} : { EndDate: schedule.endDate / 1000 }),
    FlexibleTimeWindow: schedule.flexibleTimeWindow,
    Target: schedule.target,
    ActionAfterCompletion: schedule.actionAfterCompletion,
    CreationDate: schedule.creationDate / 1000,
    LastModificationDate: schedule.lastModificationDate / 1000,
  };
}

function jsonResponse(body: unknown): RawResponse {
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

export function createScheduler(options: {
  region: string;
  /** Groups that exist; `default` always does, as in AWS. */
  groups: string[];
  /** Where the schedules are kept between starts; none keeps them in memory only. */
  file?: string;
  now?: () => number;
}): LocalScheduler {
  const now = options.now ?? Date.now;
  const groups = new Set(["default", ...options.groups]);
  const schedules = new Map<string, LocalSchedule>();
  const keyOf = (groupName: string, name: string) => `${groupName}/${name}`;

  if (options.file !== undefined) {
    try {
      const saved = JSON.parse(readFileSync(options.file, "utf8")) as LocalSchedule[];
      for (const schedule of saved) {
        // Firings missed while the twin was stopped are not made up for: the next one is booked from now.
        const next = nextFireAfter(schedule, now());
        if (next === undefined) delete schedule.nextFireAt;
        else schedule.nextFireAt = next;
        schedules.set(keyOf(schedule.groupName, schedule.name), schedule);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  const save = () => {
    if (options.file === undefined) return;
    mkdirSync(dirname(options.file), { recursive: true });
    const temporary = `${options.file}.${randomUUID()}.tmp`;
    writeFileSync(temporary, JSON.stringify([...schedules.values()], null, 2));
    renameSync(temporary, options.file);
  };

  const requireGroup = (groupName: string) => {
    if (!groups.has(groupName)) {
      throw new AwsServiceError(
        "ResourceNotFoundException",
        `Schedule group ${groupName} does not exist.`,
        404,
      );
    }
  };
  const requireSchedule = (groupName: string, name: string) => {
    const found = schedules.get(keyOf(groupName, name));
    if (found === undefined) {
      throw new AwsServiceError("ResourceNotFoundException", `Schedule ${name} does not exist.`, 404);
    }
    return found;
  };

  async function handle(request: RawRequest): Promise<RawResponse> {
    const url = new URL(request.url, "http://localhost");
    const match = /^\/schedules\/([^/]+)$/.exec(url.pathname);
    if (!match)
      throw new AwsServiceError(
        "UnknownOperationException",
        `The twin's Scheduler does not serve ${request.method} ${url.pathname}`,
        404,
      );
    const name = decodeURIComponent(match[1] ?? "");
    if (!NAME.test(name)) {
      throw validation(
        "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+",
      );
    }
    const queryGroup = url.searchParams.get("groupName");
    const readBody = (): Record<string, unknown> => {
      if (request.body.length === 0) return {};
      try {
        const parsed = JSON.parse(request.body.toString("utf8"));
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed;
      } catch {
        // reported below
      }
      throw new AwsServiceError("SerializationException", "Request body is not a JSON object");
    };

    switch (request.method) {
      case "POST": {
        const body = readBody();
        const schedule = readDefinition(body, name, now());
        requireGroup(schedule.groupName);
        const key = keyOf(schedule.groupName, name);
        if (schedules.has(key))
          throw new AwsServiceError("ConflictException", `Schedule ${name} already exists.`, 409);
        schedules.set(key, schedule);
        save();
        return jsonResponse({ ScheduleArn: scheduleArn(options.region, schedule.groupName, name) });
      }
      case "PUT": {
        const body = readBody();
        const groupName =
          typeof body.GroupName === "string" && body.GroupName !== "" ? body.GroupName : "default";
        requireGroup(groupName);
        const previous = requireSchedule(groupName, name);
        const schedule = readDefinition(body, name, now(), previous);
        schedules.set(keyOf(groupName, name), schedule);
        save();
        return jsonResponse({ ScheduleArn: scheduleArn(options.region, groupName, name) });
      }
      case "GET": {
        const groupName = queryGroup ?? "default";
        requireGroup(groupName);
        return jsonResponse(toOutput(options.region, requireSchedule(groupName, name)));
      }
      case "DELETE": {
        const groupName = queryGroup ?? "default";
        requireGroup(groupName);
        requireSchedule(groupName, name);
        schedules.delete(keyOf(groupName, name));
        save();
        return jsonResponse({});
      }
      default:
        throw new AwsServiceError(
          "UnknownOperationException",
          `The twin's Scheduler does not serve ${request.method}`,
          405,
        );
    }
  }

  return {
    service: { name: "EventBridge Scheduler", signingName: "scheduler", handle },
    list: () => [...schedules.values()],
    get: (groupName, name) => schedules.get(keyOf(groupName, name)),
    fired(schedule, after) {
      const key = keyOf(schedule.groupName, schedule.name);
      // Changed or deleted while it was firing: that change booked its own next firing.
      if (schedules.get(key) !== schedule) return;
      const next = nextFireAfter(schedule, after);
      if (next !== undefined) schedule.nextFireAt = next;
      else {
        delete schedule.nextFireAt;
        if (schedule.actionAfterCompletion === "DELETE") schedules.delete(key);
      }
      save();
    },
    arnOf: (schedule) => scheduleArn(options.region, schedule.groupName, schedule.name),
  };
}
