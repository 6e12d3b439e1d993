import { describe, expect, it } from "vitest";
import {
  billWrite,
  type IndexShape,
  type Item,
  indexWrites,
  itemBytes,
  numberBytes,
  queriedPartition,
  readUnits,
  type TableShape,
} from "../bench/dynamodb-billing.ts";
import {
  PRICES,
  perRun,
  priceStepFunctions,
  sqsBilledRequests,
  stateTransitions,
  websocketBilledMessages,
} from "../bench/prices.ts";

const KB = 1024;
const index = (
  name: string,
  projection: IndexShape["projection"],
  nonKeyAttributes?: string[],
): IndexShape => ({
  name,
  partitionKey: `${name}pk`,
  sortKey: `${name}sk`,
  projection,
  ...(nonKeyAttributes ? { nonKeyAttributes } : {}),
});
const table = (...indexes: IndexShape[]): TableShape => ({ partitionKey: "pk", sortKey: "sk", indexes });
const s = (value: string) => ({ S: value });
/** An item of exactly `bytes` bytes: keys `pk`/`sk` plus a padding string. */
function sized(bytes: number, extra: Item = {}): Item {
  const base: Item = { pk: s("P"), sk: s("S"), ...extra };
  const used = itemBytes(base) + "pad".length;
  return { ...base, pad: s("x".repeat(bytes - used)) };
}

describe("item size", () => {
  it("counts attribute names and values by AWS's rules", () => {
    expect(itemBytes({ ab: s("héllo") })).toBe(2 + 6);
    expect(itemBytes({ n: { N: "123" } })).toBe(1 + 3);
    expect(itemBytes({ ok: { BOOL: true }, no: { NULL: true } })).toBe(3 + 3);
    expect(itemBytes({ b: { B: new Uint8Array(10) } })).toBe(11);
    // A map costs 3 bytes, each element 1 more, nested names count.
    expect(itemBytes({ m: { M: { a: s("xy"), b: { L: [s("z")] } } } })).toBe(
      1 + 3 + (1 + 1 + 2) + (1 + 1 + 3 + 1 + 1),
    );
    expect(itemBytes({ e: { L: [] } })).toBe(1 + 3);
  });

  it("stores numbers as one byte per two significant digits plus one", () => {
    expect(numberBytes("0")).toBe(2);
    expect(numberBytes("1000")).toBe(2);
    expect(numberBytes("0.10")).toBe(2);
    expect(numberBytes("123456")).toBe(4);
    expect(numberBytes("-1.5")).toBe(2);
  });
});

describe("write request units", () => {
  it("bills a 14-item transaction of items up to 1 KB as 28 WRU", () => {
    const plain = table();
    const units = Array.from({ length: 14 }, (_, i) =>
      billWrite(
        plain,
        { kind: "put", before: undefined, after: sized(900 + i) },
        { transactional: true, succeeded: true },
      ),
    ).reduce((n, bill) => n + bill.total, 0);
    expect(units).toBe(28);
  });

  it("rounds each item up to the next KB, and bills an update by the larger of before and after", () => {
    const plain = table();
    expect(
      billWrite(
        plain,
        { kind: "put", before: undefined, after: sized(3.5 * KB) },
        { transactional: false, succeeded: true },
      ).total,
    ).toBe(4);
    expect(
      billWrite(
        plain,
        { kind: "update", before: sized(3 * KB), after: sized(KB - 10) },
        { transactional: false, succeeded: true },
      ).total,
    ).toBe(3);
    expect(
      billWrite(
        plain,
        { kind: "delete", before: sized(2 * KB + 1), after: undefined },
        { transactional: false, succeeded: true },
      ).total,
    ).toBe(3);
  });

  it("bills a failed condition by the item's size and writes no index", () => {
    const indexed = table(index("gsi1", "ALL"));
    const attempted = sized(1.5 * KB, { gsi1pk: s("A"), gsi1sk: s("1") });
    const bill = billWrite(
      indexed,
      { kind: "put", before: sized(100), after: undefined, attempted },
      { transactional: false, succeeded: false },
    );
    expect(bill).toEqual({ table: 2, indexes: [], total: 2 });
  });

  it("bills a transaction's condition check as a write of the checked item, twice", () => {
    const bill = billWrite(
      table(index("gsi1", "ALL")),
      { kind: "conditionCheck", before: sized(500), after: sized(500) },
      { transactional: true, succeeded: true },
    );
    expect(bill.total).toBe(2);
  });
});

describe("index writes", () => {
  const before = sized(600, { gsi1pk: s("T#1#JOBS"), gsi1sk: s("2026"), status: s("running"), note: s("a") });

  it("bills the index when an update changes a projected attribute", () => {
    const after = { ...before, status: s("succeeded") };
    const indexed = table(index("gsi1", "INCLUDE", ["status"]));
    const bill = billWrite(
      indexed,
      { kind: "update", before, after },
      { transactional: false, succeeded: true },
    );
    expect(bill.indexes).toEqual([{ index: "gsi1", partition: "T#1#JOBS", units: 1, kind: "update" }]);
    expect(bill.total).toBe(2);
  });

  it("writes no index entry when only attributes it does not project change", () => {
    const after = { ...before, note: s("b") };
    expect(indexWrites(table(index("gsi1", "INCLUDE", ["status"])), before, after)).toEqual([]);
    expect(indexWrites(table(index("gsi1", "KEYS_ONLY")), before, after)).toEqual([]);
    expect(indexWrites(table(index("gsi1", "ALL")), before, after)).toHaveLength(1);
  });

  it("bills a change of index key as a delete and a put", () => {
    const after = { ...before, gsi1sk: s("2027") };
    const writes = indexWrites(table(index("gsi1", "KEYS_ONLY")), before, after);
    expect(writes.map((w) => w.kind)).toEqual(["delete", "put"]);
    expect(writes.reduce((n, w) => n + w.units, 0)).toBe(2);
  });

  it("bills entering and leaving a sparse index once each, by the projected size", () => {
    const indexed = table(index("gsi1", "ALL"), index("gsi2", "KEYS_ONLY"));
    const big = sized(2.5 * KB, { gsi1pk: s("A"), gsi1sk: s("1"), gsi2pk: s("B"), gsi2sk: s("2") });
    expect(indexWrites(indexed, undefined, big)).toEqual([
      { index: "gsi1", partition: "A", units: 3, kind: "put" },
      { index: "gsi2", partition: "B", units: 1, kind: "put" },
    ]);
    const { gsi1pk: _gone, ...left } = big;
    expect(indexWrites(indexed, big, left)).toEqual([
      { index: "gsi1", partition: "A", units: 3, kind: "delete" },
    ]);
    expect(indexWrites(indexed, sized(100), sized(200))).toEqual([]);
  });

  it("does not double index writes inside a transaction", () => {
    const indexed = table(index("gsi1", "ALL"));
    const item = sized(500, { gsi1pk: s("A"), gsi1sk: s("1") });
    const bill = billWrite(
      indexed,
      { kind: "put", before: undefined, after: item },
      { transactional: true, succeeded: true },
    );
    expect(bill).toMatchObject({ table: 2, total: 3 });
  });
});

describe("read request units", () => {
  it("bills per 4 KB by read kind, and a read of nothing as one block", () => {
    expect(readUnits(3500, "eventual")).toBe(0.5);
    expect(readUnits(8 * KB, "strong")).toBe(2);
    expect(readUnits(8 * KB, "eventual")).toBe(1);
    expect(readUnits(8 * KB, "transactional")).toBe(4);
    expect(readUnits(0, "strong")).toBe(1);
    expect(readUnits(4 * KB + 1, "strong")).toBe(2);
  });

  it("finds the partition a query reads from its key condition", () => {
    expect(
      queriedPartition(
        "gsi1pk",
        "#p = :p AND begins_with(#s, :s)",
        { "#p": "gsi1pk", "#s": "gsi1sk" },
        {
          ":p": s("T#1#JOBS"),
          ":s": s("2026"),
        },
      ),
    ).toBe("T#1#JOBS");
    expect(queriedPartition("pk", "pk = :v", {}, { ":v": s("T#1") })).toBe("T#1");
  });
});

describe("SQS and WebSocket chunks", () => {
  it("bills a 70 KB SQS message as 2 requests and a batch by its total payload", () => {
    expect(sqsBilledRequests(70 * KB)).toBe(2);
    expect(sqsBilledRequests(64 * KB)).toBe(1);
    expect(sqsBilledRequests(10 * 10 * KB)).toBe(2);
    expect(sqsBilledRequests(0)).toBe(1);
  });

  it("bills WebSocket frames per 32 KB", () => {
    expect(websocketBilledMessages(200)).toBe(1);
    expect(websocketBilledMessages(33 * KB)).toBe(2);
  });
});

describe("Step Functions", () => {
  it("counts the start, each task and the end as transitions", () => {
    expect(stateTransitions({ kind: "chain", tasks: 5 })).toBe(7);
    expect(stateTransitions({ kind: "map", items: 10_000, maxConcurrency: 40 })).toBe(10_004);
  });

  it("prices the same task Lambda on Standard and Express, and Express by 100 ms at 64 MB", () => {
    const { standard, express } = priceStepFunctions({
      shape: { kind: "chain", tasks: 5 },
      stepWorkMs: 2.2,
      taskMemoryMb: 1024,
      taskInvokeMs: 20,
    });
    const task = (lines: typeof standard) => lines.filter((l) => l.service === "Lambda");
    expect(task(standard)).toEqual(task(express));
    expect(task(standard)[1]?.quantity).toBeCloseTo(5 * 0.003, 10);
    const transitions = standard.find((l) => l.unit === "transitions");
    expect(transitions?.usdPerRun).toBeCloseTo(7 * PRICES.stepFunctions.standardPerStateTransition, 12);
    // 5 × (2.2 + 20) ms = 111 ms → 200 ms billed at 64 MB.
    const duration = express.find((l) => l.unit === "GB-s" && l.service === "Step Functions");
    expect(duration?.quantity).toBeCloseTo((64 / 1024) * 0.2, 10);
    expect(perRun(standard)).toBeGreaterThan(perRun(express));
  });
});
