/**
 * EventBridge Scheduler expressions: parsing, validation and the times they fire at. Pure: the API uses it to
 * refuse bad expressions and to show `nextFireTimes`, and the local twin uses it to fire schedules on time.
 *
 * - `cron(min hour day-of-month month day-of-week year)`: six fields, Quartz-like. Day-of-week runs 1-7 =
 *   SUN-SAT (not 0-6), and exactly one of day-of-month and day-of-week must be `?`.
 * - `rate(n minute|minutes|hour|hours|day|days)`: every n units from the schedule's start.
 * - `at(yyyy-mm-ddThh:mm:ss)`: once, at that wall-clock time in the schedule's time zone.
 *
 * Cron and at() are evaluated in the schedule's IANA time zone. As in EventBridge Scheduler, a wall-clock time
 * that does not exist (the hour skipped when clocks go forward) does not fire, and one that happens twice
 * (when clocks go back) fires once, at its first occurrence.
 */

export class ScheduleExpressionError extends Error {
  override name = "ScheduleExpressionError";
}

export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

interface DayOfMonthSpec {
  any: boolean;
  days: Set<number>;
  last: boolean;
  lastWeekday: boolean;
  /** `15W`: the weekday nearest the 15th, within the month. */
  nearestWeekday?: number;
}

interface DayOfWeekSpec {
  any: boolean;
  /** 1-7 = SUN-SAT. */
  days: Set<number>;
  /** `6L`: the last Friday of the month. */
  lastOf?: number;
  /** `2#3`: the third Monday of the month. */
  nth?: { day: number; n: number };
}

export interface CronSpec {
  minutes: number[];
  hours: number[];
  dayOfMonth: DayOfMonthSpec;
  months: Set<number>;
  dayOfWeek: DayOfWeekSpec;
  years: Set<number>;
}

export type ScheduleExpression =
  | { kind: "cron"; spec: CronSpec }
  | { kind: "rate"; value: number; unit: "minute" | "hour" | "day"; everyMs: number }
  | { kind: "at"; local: LocalDateTime };

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;
const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

interface FieldInfo {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** What `names[0]` stands for: 1 for JAN and SUN. */
  nameBase?: number;
}

const FIELDS = {
  minutes: { name: "minutes", min: 0, max: 59 },
  hours: { name: "hours", min: 0, max: 23 },
  dayOfMonth: { name: "day-of-month", min: 1, max: 31 },
  month: { name: "month", min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  dayOfWeek: { name: "day-of-week", min: 1, max: 7, names: DAY_NAMES, nameBase: 1 },
  year: { name: "year", min: MIN_YEAR, max: MAX_YEAR },
} satisfies Record<string, FieldInfo>;

function fail(message: string): never {
  throw new ScheduleExpressionError(message);
}

function parseValue(raw: string, field: FieldInfo): number {
  const upper = raw.toUpperCase();
  const named = field.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + (field.nameBase ?? 0);
  if (!/^\d+$/.test(raw)) {
    const hint = field.names
      ? ` (use ${field.min}-${field.max} or ${field.names[0]}-${field.names.at(-1)})`
      : "";
    fail(`${field.name}: "${raw}" is not a valid value${hint}`);
  }
  const value = Number(raw);
  if (value < field.min || value > field.max) {
    fail(`${field.name}: ${value} is out of range ${field.min}-${field.max}`);
  }
  return value;
}

/** `*`, `a`, `a-b`, each optionally `/step`, joined by commas: the syntax every field shares. */
function parseList(text: string, field: FieldInfo): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    if (part === "") fail(`${field.name}: empty item in "${text}"`);
    const [range = "", stepText, extra] = part.split("/");
    if (extra !== undefined) fail(`${field.name}: "${part}" has more than one /`);
    let from: number;
    let to: number;
    if (range === "*") {
      from = field.min;
      to = field.max;
    } else if (range.includes("-")) {
      const [a = "", b = "", more] = range.split("-");
      if (more !== undefined || a === "" || b === "") fail(`${field.name}: "${range}" is not a valid range`);
      from = parseValue(a, field);
      to = parseValue(b, field);
      if (from > to) fail(`${field.name}: range ${range} goes backwards`);
    } else {
      from = parseValue(range, field);
      // `5/15` means from 5 to the end of the field, every 15.
      to = stepText === undefined ? from : field.max;
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1)
        fail(`${field.name}: step "${stepText}" must be a positive integer`);
      step = Number(stepText);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function parseDayOfMonth(text: string): DayOfMonthSpec {
  const spec: DayOfMonthSpec = { any: false, days: new Set(), last: false, lastWeekday: false };
  const upper = text.toUpperCase();
  if (upper === "?") return { ...spec, any: true };
  if (upper === "L") return { ...spec, last: true };
  if (upper === "LW") return { ...spec, lastWeekday: true };
  const weekday = /^(\d+)W$/.exec(upper);
  if (weekday) return { ...spec, nearestWeekday: parseValue(weekday[1] ?? "", FIELDS.dayOfMonth) };
  if (/[LW]/.test(upper))
    fail(`day-of-month: "${text}" uses L or W wrongly (write L, LW or nW alone, e.g. 15W)`);
  if (upper.includes("#")) fail("day-of-month: # belongs in the day-of-week field");
  return { ...spec, days: parseList(text, FIELDS.dayOfMonth) };
}

function parseDayOfWeek(text: string): DayOfWeekSpec {
  const spec: DayOfWeekSpec = { any: false, days: new Set() };
  const upper = text.toUpperCase();
  if (upper === "?") return { ...spec, any: true };
  // Alone, L is the last day of the week: Saturday.
  if (upper === "L") return { ...spec, days: new Set([7]) };
  if (upper.includes("#")) {
    if (upper.includes(","))
      fail(`day-of-week: with #, the field holds one expression only ("${text}" has a list)`);
    const match = /^([A-Z]{3}|\d+)#(\d+)$/.exec(upper);
    if (!match) fail(`day-of-week: "${text}" is not of the form day#n, e.g. 2#1 for the first Monday`);
    const n = Number(match[2]);
    if (n < 1 || n > 5) fail(`day-of-week: in "${text}", the week number must be 1-5`);
    return { ...spec, nth: { day: parseValue(match[1] ?? "", FIELDS.dayOfWeek), n } };
  }
  const last = /^([A-Z]{3}|\d+)L$/.exec(upper);
  if (last) return { ...spec, lastOf: parseValue(last[1] ?? "", FIELDS.dayOfWeek) };
  if (upper.includes("L")) fail(`day-of-week: "${text}" uses L wrongly (write L alone, or dayL such as 6L)`);
  if (upper.includes("W")) {
    // WED contains a W; a W anywhere else is the day-of-month wildcard in the wrong field.
    const withoutNames = DAY_NAMES.reduce((s, name) => s.replaceAll(name, ""), upper);
    if (withoutNames.includes("W")) fail("day-of-week: W belongs in the day-of-month field");
  }
  return { ...spec, days: parseList(text, FIELDS.dayOfWeek) };
}

function parseCron(body: string): CronSpec {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    fail(
      `cron() needs six fields (minutes hours day-of-month month day-of-week year), got ${fields.length}: "${body.trim()}"`,
    );
  }
  const [min = "", hour = "", dom = "", month = "", dow = "", year = ""] = fields;
  const plainFields: [string, FieldInfo][] = [
    [min, FIELDS.minutes],
    [hour, FIELDS.hours],
    [month, FIELDS.month],
    [year, FIELDS.year],
  ];
  for (const [text, info] of plainFields) {
    if (text === "?") fail(`${info.name}: ? is allowed only in day-of-month or day-of-week`);
    if (/[LW#]/i.test(text.replace(/[A-Z]{3}/gi, (m) => (info.names?.includes(m.toUpperCase()) ? "" : m)))) {
      fail(`${info.name}: L, W and # are allowed only in the day fields`);
    }
  }
  const domAny = dom === "?";
  const dowAny = dow === "?";
  if (domAny === dowAny) {
    fail(
      domAny
        ? "day-of-month and day-of-week cannot both be ?: give one of them a value or *"
        : "one of day-of-month or day-of-week must be ? (EventBridge does not combine them)",
    );
  }
  return {
    minutes: [...parseList(min, FIELDS.minutes)].sort((a, b) => a - b),
    hours: [...parseList(hour, FIELDS.hours)].sort((a, b) => a - b),
    dayOfMonth: parseDayOfMonth(dom),
    months: parseList(month, FIELDS.month),
    dayOfWeek: parseDayOfWeek(dow),
    years: parseList(year, FIELDS.year),
  };
}

function parseRate(body: string): ScheduleExpression {
  const match = /^\s*(\d+)\s+([a-z]+)\s*$/.exec(body);
  if (!match) fail(`rate() takes "value unit", e.g. rate(5 minutes); got "${body.trim()}"`);
  const value = Number(match[1]);
  const word = match[2] ?? "";
  if (!["minute", "minutes", "hour", "hours", "day", "days"].includes(word)) {
    fail(`rate(): unit "${word}" must be minute(s), hour(s) or day(s)`);
  }
  if (value < 1) fail("rate(): the value must be a positive integer");
  const plural = word.endsWith("s");
  if (value === 1 && plural) fail(`rate(): write "1 ${word.slice(0, -1)}", not "1 ${word}"`);
  if (value !== 1 && !plural) fail(`rate(): write "${value} ${word}s", not "${value} ${word}"`);
  const unit = (plural ? word.slice(0, -1) : word) as "minute" | "hour" | "day";
  return { kind: "rate", value, unit, everyMs: value * UNIT_MS[unit] };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function parseAt(body: string): ScheduleExpression {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body.trim());
  if (!match) fail(`at() takes yyyy-mm-ddThh:mm:ss, e.g. at(2030-01-31T09:00:00); got "${body.trim()}"`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) fail(`at(): month ${month} is not 1-12`);
  if (day < 1 || day > daysInMonth(year, month)) fail(`at(): ${body.trim().slice(0, 10)} is not a date`);
  if (hour > 23 || minute > 59 || second > 59) fail(`at(): ${body.trim().slice(11)} is not a time of day`);
  return { kind: "at", local: { year, month, day, hour, minute, second } };
}

/** Parses an expression, or throws ScheduleExpressionError saying what is wrong with it. */
export function parseScheduleExpression(expression: string): ScheduleExpression {
  const match = /^(cron|rate|at)\((.*)\)$/s.exec(expression.trim());
  if (!match) fail(`"${expression}" is not cron(...), rate(...) or at(...)`);
  const body = match[2] ?? "";
  switch (match[1]) {
    case "cron":
      return { kind: "cron", spec: parseCron(body) };
    case "rate":
      return parseRate(body);
    default:
      return parseAt(body);
  }
}

/** What is wrong with an expression, or undefined when it is valid. */
export function scheduleExpressionProblem(expression: string): string | undefined {
  try {
    parseScheduleExpression(expression);
    return undefined;
  } catch (error) {
    if (error instanceof ScheduleExpressionError) return error.message;
    throw error;
  }
}

// ---- Time zones ----------------------------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Whether `Intl` knows the IANA zone (`Europe/Berlin`, `UTC`). */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === "") return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time in `timeZone` at an instant. */
export function toLocal(instant: number, timeZone: string): LocalDateTime {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(instant))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

const asUtc = (t: LocalDateTime) => Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);

/** The zone's offset from UTC at an instant, in ms (whole seconds). */
function offsetAt(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / 1000) * 1000;
  return asUtc(toLocal(whole, timeZone)) - whole;
}

/**
 * The instant a wall-clock time happens in `timeZone`: undefined when it does not exist (skipped by a DST
 * change), the earlier one when it happens twice.
 */
export function fromLocal(local: LocalDateTime, timeZone: string): number | undefined {
  const naive = asUtc(local);
  // Offsets a day either side bracket any single transition near this time.
  const offsets = new Set([
    offsetAt(naive - 86_400_000, timeZone),
    offsetAt(naive + 86_400_000, timeZone),
    offsetAt(naive, timeZone),
  ]);
  const candidates = [...offsets]
    .map((offset) => naive - offset)
    .filter((instant) => asUtc(toLocal(instant, timeZone)) === naive)
    .sort((a, b) => a - b);
  return candidates[0];
}

// ---- Firing times --------------------------------------------------------------------------------------------

/** 1-7 = SUN-SAT. */
function dayOfWeek(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function isWeekday(year: number, month: number, day: number): boolean {
  const dow = dayOfWeek(year, month, day);
  return dow >= 2 && dow <= 6;
}

/** The weekday nearest `target` without leaving the month, as Quartz's `W` defines it. */
function nearestWeekday(year: number, month: number, target: number): number | undefined {
  const last = daysInMonth(year, month);
  if (target > last) return undefined;
  const dow = dayOfWeek(year, month, target);
  if (dow === 7) return target === 1 ? 3 : target - 1;
  if (dow === 1) return target === last ? target - 2 : target + 1;
  return target;
}

function matchingDays(spec: CronSpec, year: number, month: number): number[] {
  const last = daysInMonth(year, month);
  const { dayOfMonth: dom, dayOfWeek: dow } = spec;
  const days: number[] = [];
  if (!dom.any) {
    if (dom.last) return [last];
    if (dom.lastWeekday) {
      let day = last;
      while (!isWeekday(year, month, day)) day--;
      return [day];
    }
    if (dom.nearestWeekday !== undefined) {
      const day = nearestWeekday(year, month, dom.nearestWeekday);
      return day === undefined ? [] : [day];
    }
    for (let day = 1; day <= last; day++) if (dom.days.has(day)) days.push(day);
    return days;
  }
  for (let day = 1; day <= last; day++) {
    const d = dayOfWeek(year, month, day);
    if (dow.nth !== undefined) {
      if (d === dow.nth.day && Math.ceil(day / 7) === dow.nth.n) days.push(day);
    } else if (dow.lastOf !== undefined) {
      if (d === dow.lastOf && day + 7 > last) days.push(day);
    } else if (dow.days.has(d)) {
      days.push(day);
    }
  }
  return days;
}

function compareLocal(a: LocalDateTime, b: LocalDateTime): number {
  return asUtc(a) - asUtc(b);
}

/** Cron firing instants strictly after `after`, in order, at most `count`. */
function cronTimes(spec: CronSpec, timeZone: string, after: number, count: number): number[] {
  const out: number[] = [];
  // Start a day early in local terms: an instant just after `after` can sit on the previous local date near
  // a DST change, and candidates at or before `after` are dropped below anyway.
  const start = toLocal(after - 86_400_000, timeZone);
  const startKey = { ...start, hour: 0, minute: 0, second: 0 };
  // Wall-clock times more than a few hours before `after`'s own cannot fire after it, whatever the offsets.
  const earliest = asUtc(toLocal(after, timeZone)) - 4 * 3_600_000;
  const years = [...spec.years].filter((y) => y >= start.year).sort((a, b) => a - b);
  for (const year of years) {
    for (let month = 1; month <= 12; month++) {
      if (!spec.months.has(month)) continue;
      if (year === start.year && month < start.month) continue;
      for (const day of matchingDays(spec, year, month)) {
        if (compareLocal({ year, month, day, hour: 0, minute: 0, second: 0 }, startKey) < 0) continue;
        for (const hour of spec.hours) {
          for (const minute of spec.minutes) {
            if (Date.UTC(year, month - 1, day, hour, minute) < earliest) continue;
            const instant = fromLocal({ year, month, day, hour, minute, second: 0 }, timeZone);
            if (instant === undefined || instant <= after) continue;
            out.push(instant);
            if (out.length >= count) return out;
          }
        }
      }
    }
  }
  return out;
}

export interface FireTimesOptions {
  timeZone: string;
  /** Times strictly after this instant. */
  after: Date;
  count: number;
  /** For rate(): when the schedule started (EventBridge fires at once, then every interval). */
  start?: Date;
}

/** The next `count` times an expression fires after `after`. Fewer when it stops (at() passed, years end). */
export function nextFireTimes(expression: string | ScheduleExpression, options: FireTimesOptions): Date[] {
  const parsed = typeof expression === "string" ? parseScheduleExpression(expression) : expression;
  const after = options.after.getTime();
  switch (parsed.kind) {
    case "at": {
      const instant = fromLocal(parsed.local, options.timeZone);
      // A skipped wall-clock time still names a moment: the one after the gap, as the clock reads it then.
      const at =
        instant ?? asUtc(parsed.local) - offsetAt(asUtc(parsed.local) + 86_400_000, options.timeZone);
      return at > after && options.count > 0 ? [new Date(at)] : [];
    }
    case "rate": {
      const start = (options.start ?? options.after).getTime();
      const first = start > after ? 0 : Math.floor((after - start) / parsed.everyMs) + 1;
      return Array.from({ length: options.count }, (_, i) => new Date(start + (first + i) * parsed.everyMs));
    }
    default:
      return cronTimes(parsed.spec, options.timeZone, after, options.count).map((t) => new Date(t));
  }
}
