import { describe, expect, it } from "vitest";
import {
  fromLocal,
  isValidTimeZone,
  nextFireTimes,
  parseScheduleExpression,
  scheduleExpressionProblem,
} from "#shared/schedules/expression";

const iso = (dates: Date[]) => dates.map((d) => d.toISOString().replace(".000Z", "Z"));
const next = (expression: string, after: string, timeZone = "UTC", count = 5, start?: string) =>
  iso(
    nextFireTimes(expression, {
      timeZone,
      after: new Date(after),
      count,
      ...(start === undefined ? {} : { start: new Date(start) }),
    }),
  );

describe("schedule expressions: what EventBridge Scheduler accepts", () => {
  it.each([
    "cron(0 10 * * ? *)",
    "cron(15 12 * * ? *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(0 8 1 * ? *)",
    "cron(0/10 * ? * MON-FRI *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(*/15 * * * ? *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(0 0 L * ? *)",
    "cron(0 0 LW * ? *)",
    "cron(0 0 15W * ? *)",
    "cron(0 12 ? * 6L *)",
    "cron(0 12 ? * L *)",
    "cron(0 10 ? JAN,JUL WED *)",
    "cron(0 10 ? jan-mar sun *)",
    "cron(0 0 1 1 ? 2030)",
    "cron(0 0 1 1 ? 2025/2)",
    "cron(0 0 1,15 * ? *)",
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(12 hours)",
    "rate(1 day)",
    "rate(7 days)",
    "at(2030-01-31T09:00:00)",
    "at(2028-02-29T23:59:59)",
  ])("accepts %s", (expression) => {
    expect(scheduleExpressionProblem(expression)).toBeUndefined();
  });

  it.each([
    ["cron(0 10 * * *)", /six fields/],
    ["cron(0 10 * * ? * *)", /six fields/],
    ["cron(0 10 * * * *)", /one of day-of-month or day-of-week must be \?/],
    ["cron(0 10 ? * ? *)", /cannot both be \?/],
    ["cron(60 10 * * ? *)", /minutes: 60 is out of range 0-59/],
    ["cron(0 24 * * ? *)", /hours: 24 is out of range 0-23/],
    ["cron(0 10 32 * ? *)", /day-of-month: 32 is out of range 1-31/],
    ["cron(0 10 * 13 ? *)", /month: 13 is out of range 1-12/],
    ["cron(0 10 ? * 0 *)", /day-of-week: 0 is out of range 1-7/],
    ["cron(0 10 ? * 8 *)", /day-of-week: 8 is out of range 1-7/],
    ["cron(0 10 * FOO ? *)", /month: "FOO" is not a valid value/],
    ["cron(0 10 ? * 2#6 *)", /week number must be 1-5/],
    ["cron(0 10 ? * 2#1,3#2 *)", /one expression only/],
    ["cron(0 10 * * ? 1969)", /year: 1969 is out of range/],
    ["cron(5-1 * * * ? *)", /range 5-1 goes backwards/],
    ["cron(*/0 * * * ? *)", /step "0" must be a positive integer/],
    ["cron(0 ? * * ? *)", /\? is allowed only in day-of-month or day-of-week/],
    ["cron(0 10 ? L * *)", /month/],
    ["cron(0 10 ? * W *)", /W belongs in the day-of-month field/],
    ["cron(0 10 L,5 * ? *)", /uses L or W wrongly/],
    ["rate(0 minutes)", /positive integer/],
    ["rate(1 minutes)", /write "1 minute"/],
    ["rate(5 minute)", /write "5 minutes"/],
    ["rate(5 seconds)", /unit "seconds"/],
    ["rate(five minutes)", /value unit/],
    ["at(2030-02-30T10:00:00)", /2030-02-30 is not a date/],
    ["at(2030-01-01 10:00:00)", /yyyy-mm-ddThh:mm:ss/],
    ["at(2030-01-01T25:00:00)", /not a time of day/],
    ["every 5 minutes", /is not cron\(\.\.\.\), rate\(\.\.\.\) or at\(\.\.\.\)/],
    ["", /is not cron/],
  ])("refuses %s, saying why", (expression, why) => {
    expect(scheduleExpressionProblem(expression)).toMatch(why);
  });

  it("treats day-of-week 1-7 as SUN-SAT, not 0-6", () => {
    const parsed = parseScheduleExpression("cron(0 9 ? * 2 *)");
    expect(parsed.kind === "cron" && [...parsed.spec.dayOfWeek.days]).toEqual([2]);
    // 2025-01-06 is a Monday.
    expect(next("cron(0 9 ? * 2 *)", "2025-01-01T00:00:00Z", "UTC", 2)).toEqual([
      "2025-01-06T09:00:00Z",
      "2025-01-13T09:00:00Z",
    ]);
  });

  it("knows IANA time zones through Intl", () => {
    expect(isValidTimeZone("Europe/Berlin")).toBe(true);
    expect(isValidTimeZone("UTC")).toBe(true);
    expect(isValidTimeZone("America/Argentina/Buenos_Aires")).toBe(true);
    expect(isValidTimeZone("Mars/Olympus_Mons")).toBe(false);
    expect(isValidTimeZone("")).toBe(false);
  });
});

describe("next fire times", () => {
  it("steps through minutes and hours", () => {
    expect(next("cron(0/15 * * * ? *)", "2025-01-01T00:07:00Z")).toEqual([
      "2025-01-01T00:15:00Z",
      "2025-01-01T00:30:00Z",
      "2025-01-01T00:45:00Z",
      "2025-01-01T01:00:00Z",
      "2025-01-01T01:15:00Z",
    ]);
  });

  it("never returns the instant it starts from", () => {
    expect(next("cron(0 10 * * ? *)", "2025-01-01T10:00:00Z", "UTC", 1)).toEqual(["2025-01-02T10:00:00Z"]);
  });

  it("skips weekends with MON-FRI", () => {
    expect(next("cron(0 9 ? * MON-FRI *)", "2025-01-03T10:00:00Z", "UTC", 3)).toEqual([
      "2025-01-06T09:00:00Z",
      "2025-01-07T09:00:00Z",
      "2025-01-08T09:00:00Z",
    ]);
  });

  it("finds the last day of each month, leap years included", () => {
    expect(next("cron(0 0 L * ? *)", "2024-01-01T00:00:00Z", "UTC", 4)).toEqual([
      "2024-01-31T00:00:00Z",
      "2024-02-29T00:00:00Z",
      "2024-03-31T00:00:00Z",
      "2024-04-30T00:00:00Z",
    ]);
  });

  it("finds the nth and the last weekday of a month", () => {
    expect(next("cron(0 12 ? * 6#3 *)", "2025-01-01T00:00:00Z", "UTC", 3)).toEqual([
      "2025-01-17T12:00:00Z",
      "2025-02-21T12:00:00Z",
      "2025-03-21T12:00:00Z",
    ]);
    expect(next("cron(0 12 ? * FRI#3 *)", "2025-01-01T00:00:00Z", "UTC", 1)).toEqual([
      "2025-01-17T12:00:00Z",
    ]);
    expect(next("cron(0 12 ? * 6L *)", "2025-01-01T00:00:00Z", "UTC", 3)).toEqual([
      "2025-01-31T12:00:00Z",
      "2025-02-28T12:00:00Z",
      "2025-03-28T12:00:00Z",
    ]);
  });

  it("moves W days to the nearest weekday without leaving the month", () => {
    // 2025-01-15 Wed stays; 2025-02-15 Sat → Fri 14th; 2025-06-15 Sun → Mon 16th.
    expect(next("cron(0 8 15W * ? *)", "2025-01-01T00:00:00Z", "UTC", 6)).toEqual([
      "2025-01-15T08:00:00Z",
      "2025-02-14T08:00:00Z",
      "2025-03-14T08:00:00Z",
      "2025-04-15T08:00:00Z",
      "2025-05-15T08:00:00Z",
      "2025-06-16T08:00:00Z",
    ]);
    // 2025-03-01 is a Saturday: the nearest weekday in March is Monday the 3rd, not Friday in February.
    expect(next("cron(0 0 1W * ? *)", "2025-02-15T00:00:00Z", "UTC", 1)).toEqual(["2025-03-03T00:00:00Z"]);
    // 2025-05-31 is a Saturday, 2025-08-31 a Sunday.
    expect(next("cron(0 0 LW * ? *)", "2025-05-01T00:00:00Z", "UTC", 4)).toEqual([
      "2025-05-30T00:00:00Z",
      "2025-06-30T00:00:00Z",
      "2025-07-31T00:00:00Z",
      "2025-08-29T00:00:00Z",
    ]);
  });

  it("stops when the years run out, and finds nothing for a date that never exists", () => {
    expect(next("cron(0 0 1 1 ? 2027-2028)", "2025-06-01T00:00:00Z")).toEqual([
      "2027-01-01T00:00:00Z",
      "2028-01-01T00:00:00Z",
    ]);
    expect(next("cron(0 0 30 2 ? *)", "2025-06-01T00:00:00Z")).toEqual([]);
  });

  it("evaluates cron in the schedule's time zone", () => {
    // 09:00 in Berlin is 08:00Z in winter (CET) and 07:00Z in summer (CEST).
    expect(next("cron(0 9 * * ? *)", "2025-01-10T00:00:00Z", "Europe/Berlin", 1)).toEqual([
      "2025-01-10T08:00:00Z",
    ]);
    expect(next("cron(0 9 * * ? *)", "2025-07-10T00:00:00Z", "Europe/Berlin", 1)).toEqual([
      "2025-07-10T07:00:00Z",
    ]);
    // Day-of-week is the local day: Monday 00:30 in Tokyo is still Sunday in UTC.
    expect(next("cron(30 0 ? * MON *)", "2025-01-01T00:00:00Z", "Asia/Tokyo", 1)).toEqual([
      "2025-01-05T15:30:00Z",
    ]);
  });

  it("skips a wall-clock time that the spring DST change removes", () => {
    // New York, 2025-03-09: 02:00 EST jumps to 03:00 EDT, so 02:30 does not happen that day.
    expect(next("cron(30 2 * * ? *)", "2025-03-07T12:00:00Z", "America/New_York", 3)).toEqual([
      "2025-03-08T07:30:00Z",
      "2025-03-10T06:30:00Z",
      "2025-03-11T06:30:00Z",
    ]);
  });

  it("fires a repeated wall-clock time once when clocks go back in the fall", () => {
    // New York, 2025-11-02: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice; it fires at the first.
    expect(next("cron(30 1 * * ? *)", "2025-11-01T00:00:00Z", "America/New_York", 3)).toEqual([
      "2025-11-01T05:30:00Z",
      "2025-11-02T05:30:00Z",
      "2025-11-03T06:30:00Z",
    ]);
    expect(next("cron(0 * * * ? *)", "2025-11-02T04:30:00Z", "America/New_York", 3)).toEqual([
      "2025-11-02T05:00:00Z",
      "2025-11-02T07:00:00Z",
      "2025-11-02T08:00:00Z",
    ]);
  });

  it("runs rate() from the schedule's start, every interval", () => {
    expect(next("rate(5 minutes)", "2025-01-01T00:12:00Z", "UTC", 3, "2025-01-01T00:00:00Z")).toEqual([
      "2025-01-01T00:15:00Z",
      "2025-01-01T00:20:00Z",
      "2025-01-01T00:25:00Z",
    ]);
    // A day is 24 hours, whatever the DST change does to the wall clock.
    expect(
      next("rate(1 day)", "2025-03-08T12:00:00Z", "America/New_York", 2, "2025-03-08T12:00:00Z"),
    ).toEqual(["2025-03-09T12:00:00Z", "2025-03-10T12:00:00Z"]);
  });

  it("fires at() once, at the local time of its zone", () => {
    expect(next("at(2030-01-31T09:00:00)", "2029-01-01T00:00:00Z", "Asia/Tokyo")).toEqual([
      "2030-01-31T00:00:00Z",
    ]);
    expect(next("at(2030-01-31T09:00:00)", "2030-01-31T00:00:00Z", "Asia/Tokyo")).toEqual([]);
  });

  it("converts wall-clock times to instants around DST changes", () => {
    const nyc = "America/New_York";
    expect(fromLocal({ year: 2025, month: 3, day: 9, hour: 2, minute: 30, second: 0 }, nyc)).toBeUndefined();
    expect(
      new Date(
        fromLocal({ year: 2025, month: 11, day: 2, hour: 1, minute: 30, second: 0 }, nyc) ?? 0,
      ).toISOString(),
    ).toBe("2025-11-02T05:30:00.000Z");
  });
});
