/**
 * Counts and prices every AWS request the platform makes, by the function invocation that made it.
 * Lambda invocations are seen on the twin's invoke path (`onInvocation`); SDK requests through an
 * attempt-level middleware (`sdk-hooks.ts`), so each request actually sent is seen once, retries included,
 * with its input already in DynamoDB's wire format.
 *
 * DynamoDB is priced by AWS's rules from the items each request touched (`dynamodb-billing.ts`): around
 * every write the meter reads the item before and after with its own client, and re-runs every read
 * without its projection or filter to learn the size DynamoDB bills. Those shadow requests are not
 * counted. Index definitions come from DescribeTable, so they follow whatever the table is given.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
} from "@aws-sdk/client-dynamodb";
import { type FunctionName, manifest } from "#infra/manifest";
import {
  billWrite,
  type Item,
  itemBytes,
  keyOf,
  partitionOf,
  placeholdersIn,
  queriedPartition,
  type ReadKind,
  readUnits,
  type TableShape,
  type WriteAction,
  type WriteKind,
} from "./dynamodb-billing.ts";
import { type RunUsage, sqsBilledRequests, websocketBilledMessages } from "./prices.ts";
import { addSdkHook, invocationScope, onInvocation, type SdkCall } from "./sdk-hooks.ts";

/** Requests carrying this header are the bench's own probes (job status checks), not the platform's work. */
export const PROBE_HEADER = "x-bench-probe";

interface DynamoSource {
  requests: number;
  tableWru: number;
  indexWru: number;
  rru: number;
  byCommand: Record<string, { calls: number; wru: number; rru: number; items: number }>;
  /** Written items by the shape of their sort key (its upper-case labels), to see where the units go. */
  byItem: Record<string, { writes: number; tableWru: number; indexWru: number }>;
}

export interface MeterSnapshot {
  lambda: Record<string, { invocations: number; billedMs: number }>;
  /** By source: the function (`api`, `worker`, …) or `event-source` for the twin's pollers. */
  dynamodb: Record<string, DynamoSource>;
  sqs: { billedRequests: number; calls: number; emptyReceives: number; messagesSent: number };
  s3: { put: number; get: number; delete: number };
  streams: { getRecords: number; emptyGetRecords: number; records: number };
  websocket: {
    postToConnection: number;
    billedPosts: number;
    inbound: number;
    billedInbound: number;
    gone: number;
  };
  /** Every SDK request by `source client.command`, idle polls (empty receives and GetRecords) apart. */
  calls: Record<string, number>;
  idlePolls: Record<string, number>;
  /** Units per partition: `table:<pk>` or `<index>:<index pk>`. */
  partitions: Record<string, { wru: number; rru: number }>;
}

function empty(): MeterSnapshot {
  return {
    lambda: {},
    dynamodb: {},
    sqs: { billedRequests: 0, calls: 0, emptyReceives: 0, messagesSent: 0 },
    s3: { put: 0, get: 0, delete: 0 },
    streams: { getRecords: 0, emptyGetRecords: 0, records: 0 },
    websocket: { postToConnection: 0, billedPosts: 0, inbound: 0, billedInbound: 0, gone: 0 },
    calls: {},
    idlePolls: {},
    partitions: {},
  };
}

function entryOf<T>(map: Record<string, T>, key: string, create: () => T): T {
  const existing = map[key];
  if (existing !== undefined) return existing;
  const created = create();
  map[key] = created;
  return created;
}

function bytesOf(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "string") return Buffer.byteLength(value);
  if (value instanceof Uint8Array) return value.byteLength;
  return Buffer.byteLength(JSON.stringify(value));
}

/** An SQS message's billed payload: the body and its attributes (names, types and values). */
function sqsPayload(message: { MessageBody?: string; Body?: string; MessageAttributes?: unknown }): number {
  let bytes = bytesOf(message.MessageBody ?? message.Body);
  const attributes = (message.MessageAttributes ?? {}) as Record<
    string,
    { DataType?: string; StringValue?: string; BinaryValue?: Uint8Array }
  >;
  for (const [name, value] of Object.entries(attributes)) {
    bytes +=
      bytesOf(name) + bytesOf(value.DataType) + bytesOf(value.StringValue) + bytesOf(value.BinaryValue);
  }
  return bytes;
}

/** `JOB#01J…#STEP#s1#0` → `JOB#STEP`: the labels of a sort key, without its ids. */
function itemShape(item: Item | undefined, table: TableShape): string {
  const sk = table.sortKey === undefined ? undefined : item?.[table.sortKey]?.S;
  if (sk === undefined) return "?";
  const labels = sk.split("#").filter((part) => /^[A-Z_]+$/.test(part));
  return labels.length > 0 ? labels.join("#") : "(id)";
}

function isProbe(event: unknown): boolean {
  const headers = (event as { headers?: Record<string, unknown> } | undefined)?.headers;
  if (headers === undefined || headers === null) return false;
  return Object.keys(headers).some((name) => name.toLowerCase() === PROBE_HEADER);
}

const shadowScope = new AsyncLocalStorage<true>();

export class Meter {
  /** Off, requests pass untouched and unread: the timing phases run without the meter's shadow reads. */
  active = false;
  /** When the last request that was not an idle poll was seen: the bench waits for quiet after a run. */
  lastCallAt = 0;
  private data = empty();
  private stops: (() => void)[] = [];
  private shadowClient: DynamoDBClient | undefined;
  private readonly tables = new Map<string, Promise<TableShape>>();
  private readonly shadowTime = new WeakMap<object, { depth: number; since: number; total: number }>();

  install(): this {
    this.stops.push(
      onInvocation(({ name, event, ms }) => {
        if (!this.active || isProbe(event)) return;
        const entry = entryOf(this.data.lambda, name, () => ({ invocations: 0, billedMs: 0 }));
        entry.invocations++;
        const shadowMs =
          typeof event === "object" && event !== null ? (this.shadowTime.get(event)?.total ?? 0) : 0;
        entry.billedMs += Math.max(1, Math.ceil(ms - shadowMs));
        const request = event as { requestContext?: { routeKey?: string }; body?: string } | undefined;
        if (name === "ws" && request?.requestContext?.routeKey === "$default") {
          this.data.websocket.inbound++;
          this.data.websocket.billedInbound += websocketBilledMessages(bytesOf(request.body));
        }
      }),
    );
    this.stops.push(
      addSdkHook(
        "meter",
        async (call, next) => {
          const scope = invocationScope.getStore();
          if (!this.active || shadowScope.getStore() === true || isProbe(scope?.event)) return next();
          const source = scope?.function ?? "event-source";
          if (call.clientName === "DynamoDBClient") return this.dynamo(source, call, next);
          const result = await next().catch((error: unknown) => {
            if (call.commandName === "PostToConnectionCommand" && (error as Error).name === "GoneException") {
              this.data.websocket.gone++;
            }
            this.count(source, call, false);
            throw error;
          });
          this.other(source, call, (result.output ?? {}) as Record<string, unknown>);
          return result;
        },
        "attempt",
      ),
    );
    return this;
  }

  private shadow(): DynamoDBClient {
    this.shadowClient ??= new DynamoDBClient({});
    return this.shadowClient;
  }

  /**
   * Runs the meter's own request. Its time inside an invocation is kept (as the union of overlapping
   * shadow requests), so the invocation is billed without it.
   */
  private async inShadow<T>(work: () => Promise<T>): Promise<T> {
    const event = invocationScope.getStore()?.event;
    const tracked = typeof event === "object" && event !== null ? event : undefined;
    let clock = tracked === undefined ? undefined : this.shadowTime.get(tracked);
    if (tracked !== undefined && clock === undefined) {
      clock = { depth: 0, since: 0, total: 0 };
      this.shadowTime.set(tracked, clock);
    }
    if (clock !== undefined && clock.depth++ === 0) clock.since = performance.now();
    try {
      return await shadowScope.run(true, work);
    } finally {
      if (clock !== undefined && --clock.depth === 0) clock.total += performance.now() - clock.since;
    }
  }

  private table(name: string): Promise<TableShape> {
    let shape = this.tables.get(name);
    if (shape === undefined) {
      shape = this.inShadow(async () => {
        const { Table } = await this.shadow().send(new DescribeTableCommand({ TableName: name }));
        const keyName = (schema: { AttributeName?: string; KeyType?: string }[] | undefined, type: string) =>
          schema?.find((k) => k.KeyType === type)?.AttributeName;
        return {
          partitionKey: keyName(Table?.KeySchema, "HASH") ?? manifest.table.partitionKey,
          sortKey: keyName(Table?.KeySchema, "RANGE"),
          indexes: (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
            name: index.IndexName ?? "?",
            partitionKey: keyName(index.KeySchema, "HASH") ?? "?",
            sortKey: keyName(index.KeySchema, "RANGE"),
            projection: (index.Projection?.ProjectionType ?? "ALL") as "ALL" | "KEYS_ONLY" | "INCLUDE",
            nonKeyAttributes: index.Projection?.NonKeyAttributes ?? [],
          })),
        } satisfies TableShape;
      });
      this.tables.set(name, shape);
    }
    return shape;
  }

  private async read(tableName: string, key: Item, consistent = true): Promise<Item | undefined> {
    return this.inShadow(async () => {
      const { Item } = await this.shadow().send(
        new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: consistent }),
      );
      return Item;
    });
  }

  /** The page a Query or Scan evaluated, without its projection and filter: what DynamoDB bills. */
  private async page(command: "Query" | "Scan", input: Record<string, unknown>): Promise<Item[]> {
    const condition = (input.KeyConditionExpression as string | undefined) ?? "";
    const used = placeholdersIn(condition);
    const names = input.ExpressionAttributeNames as Record<string, string> | undefined;
    const values = input.ExpressionAttributeValues as Item | undefined;
    const pickedNames: Record<string, string> = {};
    for (const n of used.names) if (names?.[n] !== undefined) pickedNames[n] = names[n];
    const pickedValues: Item = {};
    for (const v of used.values) if (values?.[v] !== undefined) pickedValues[v] = values[v];
    const base = {
      TableName: input.TableName as string,
      IndexName: input.IndexName as string | undefined,
      ExclusiveStartKey: input.ExclusiveStartKey as Item | undefined,
      Limit: input.Limit as number | undefined,
      ConsistentRead: input.ConsistentRead as boolean | undefined,
      ...(Object.keys(pickedNames).length > 0 ? { ExpressionAttributeNames: pickedNames } : {}),
      ...(Object.keys(pickedValues).length > 0 ? { ExpressionAttributeValues: pickedValues } : {}),
    };
    return this.inShadow(async () => {
      if (command === "Query") {
        const query: QueryCommandInput = {
          ...base,
          KeyConditionExpression: condition,
          ScanIndexForward: input.ScanIndexForward as boolean | undefined,
        };
        return (await this.shadow().send(new QueryCommand(query))).Items ?? [];
      }
      const scan: ScanCommandInput = {
        ...base,
        Segment: input.Segment as number | undefined,
        TotalSegments: input.TotalSegments as number | undefined,
      };
      return (await this.shadow().send(new ScanCommand(scan))).Items ?? [];
    });
  }

  private source(source: string): DynamoSource {
    return entryOf(this.data.dynamodb, source, () => ({
      requests: 0,
      tableWru: 0,
      indexWru: 0,
      rru: 0,
      byCommand: {},
      byItem: {},
    }));
  }

  private heat(partition: string, units: { wru?: number; rru?: number }): void {
    const entry = entryOf(this.data.partitions, partition, () => ({ wru: 0, rru: 0 }));
    entry.wru += units.wru ?? 0;
    entry.rru += units.rru ?? 0;
  }

  private count(source: string, call: SdkCall, idle: boolean): void {
    const key = `${source} ${call.clientName.replace(/Client$/, "")}.${call.commandName.replace(/Command$/, "")}`;
    const map = idle ? this.data.idlePolls : this.data.calls;
    if (!idle) this.lastCallAt = Date.now();
    map[key] = (map[key] ?? 0) + 1;
  }

  private addRead(source: string, command: string, partition: string, units: number, items: number): void {
    const entry = this.source(source);
    entry.rru += units;
    const c = entryOf(entry.byCommand, command, () => ({ calls: 0, wru: 0, rru: 0, items: 0 }));
    c.rru += units;
    c.items += items;
    this.heat(partition, { rru: units });
  }

  private addWrite(
    source: string,
    command: string,
    tableName: string,
    table: TableShape,
    action: WriteAction,
    options: { transactional: boolean; succeeded: boolean },
  ): void {
    const bill = billWrite(table, action, options);
    const entry = this.source(source);
    const indexUnits = bill.indexes.reduce((n, w) => n + w.units, 0);
    entry.tableWru += bill.table;
    entry.indexWru += indexUnits;
    const c = entryOf(entry.byCommand, command, () => ({ calls: 0, wru: 0, rru: 0, items: 0 }));
    c.wru += bill.total;
    c.items++;
    const shape = itemShape(action.after ?? action.before ?? action.attempted, table);
    const byItem = entryOf(entry.byItem, `${action.kind} ${shape}`, () => ({
      writes: 0,
      tableWru: 0,
      indexWru: 0,
    }));
    byItem.writes++;
    byItem.tableWru += bill.table;
    byItem.indexWru += indexUnits;
    const key = action.after ?? action.before ?? action.attempted;
    this.heat(`${tableName}:${partitionOf(table, key)}`, { wru: bill.table });
    for (const write of bill.indexes) this.heat(`${write.index}:${write.partition}`, { wru: write.units });
  }

  private async dynamo(
    source: string,
    call: SdkCall,
    next: () => Promise<{ output: unknown }>,
  ): Promise<{ output: unknown }> {
    const command = call.commandName.replace(/Command$/, "");
    const input = call.input;
    this.count(source, call, false);
    const entry = this.source(source);
    entry.requests++;
    entryOf(entry.byCommand, command, () => ({ calls: 0, wru: 0, rru: 0, items: 0 })).calls++;
    const tableName = input.TableName as string | undefined;
    switch (command) {
      case "GetItem": {
        const result = await next();
        const table = await this.table(tableName as string);
        const key = input.Key as Item;
        const item = await this.read(tableName as string, key, input.ConsistentRead === true);
        const kind: ReadKind = input.ConsistentRead === true ? "strong" : "eventual";
        this.addRead(
          source,
          command,
          `${tableName}:${partitionOf(table, key)}`,
          readUnits(itemBytes(item), kind),
          1,
        );
        return result;
      }
      case "BatchGetItem":
      case "TransactGetItems": {
        const result = await next();
        const gets: { tableName: string; key: Item; kind: ReadKind }[] = [];
        if (command === "BatchGetItem") {
          for (const [name, request] of Object.entries(
            (input.RequestItems ?? {}) as Record<string, { Keys?: Item[]; ConsistentRead?: boolean }>,
          )) {
            for (const key of request.Keys ?? []) {
              gets.push({
                tableName: name,
                key,
                kind: request.ConsistentRead === true ? "strong" : "eventual",
              });
            }
          }
        } else {
          for (const item of (input.TransactItems ?? []) as { Get?: { TableName: string; Key: Item } }[]) {
            if (item.Get)
              gets.push({ tableName: item.Get.TableName, key: item.Get.Key, kind: "transactional" });
          }
        }
        await Promise.all(
          gets.map(async (get) => {
            const table = await this.table(get.tableName);
            const item = await this.read(get.tableName, get.key, get.kind !== "eventual");
            this.addRead(
              source,
              command,
              `${get.tableName}:${partitionOf(table, get.key)}`,
              readUnits(itemBytes(item), get.kind),
              1,
            );
          }),
        );
        return result;
      }
      case "Query":
      case "Scan": {
        const result = await next();
        const table = await this.table(tableName as string);
        const items = await this.page(command, input);
        const index = table.indexes.find((i) => i.name === input.IndexName);
        const partition =
          command === "Query"
            ? queriedPartition(
                index?.partitionKey ?? table.partitionKey,
                (input.KeyConditionExpression as string | undefined) ?? "",
                input.ExpressionAttributeNames as Record<string, string> | undefined,
                input.ExpressionAttributeValues as Item | undefined,
              )
            : "(scan)";
        const bytes = items.reduce((n, item) => n + itemBytes(item), 0);
        const kind: ReadKind = input.ConsistentRead === true ? "strong" : "eventual";
        this.addRead(
          source,
          command,
          `${index?.name ?? tableName}:${partition}`,
          readUnits(bytes, kind),
          items.length,
        );
        return result;
      }
      case "PutItem":
      case "UpdateItem":
      case "DeleteItem":
      case "BatchWriteItem":
      case "TransactWriteItems":
        return this.write(source, command, input, next);
      default:
        return next();
    }
  }

  private async write(
    source: string,
    command: string,
    input: Record<string, unknown>,
    next: () => Promise<{ output: unknown }>,
  ): Promise<{ output: unknown }> {
    type Planned = { tableName: string; kind: WriteKind; key: Item; attempted?: Item; before?: Item };
    const planned: Planned[] = [];
    const plan = async (tableName: string, kind: WriteKind, key: Item | undefined, item?: Item) => {
      const table = await this.table(tableName);
      planned.push({
        tableName,
        kind,
        key: key ?? keyOf(table, item ?? {}),
        ...(item ? { attempted: item } : {}),
      });
    };
    if (command === "PutItem") await plan(input.TableName as string, "put", undefined, input.Item as Item);
    else if (command === "UpdateItem") await plan(input.TableName as string, "update", input.Key as Item);
    else if (command === "DeleteItem") await plan(input.TableName as string, "delete", input.Key as Item);
    else if (command === "BatchWriteItem") {
      for (const [name, requests] of Object.entries(
        (input.RequestItems ?? {}) as Record<
          string,
          { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]
        >,
      )) {
        for (const request of requests) {
          if (request.PutRequest) await plan(name, "put", undefined, request.PutRequest.Item);
          else if (request.DeleteRequest) await plan(name, "delete", request.DeleteRequest.Key);
        }
      }
    } else {
      type Action = { TableName: string; Key?: Item; Item?: Item };
      for (const action of (input.TransactItems ?? []) as Record<string, Action | undefined>[]) {
        if (action.Put) await plan(action.Put.TableName, "put", undefined, action.Put.Item);
        else if (action.Update) await plan(action.Update.TableName, "update", action.Update.Key);
        else if (action.Delete) await plan(action.Delete.TableName, "delete", action.Delete.Key);
        else if (action.ConditionCheck)
          await plan(action.ConditionCheck.TableName, "conditionCheck", action.ConditionCheck.Key);
      }
    }
    await Promise.all(
      planned.map(async (p) => {
        p.before = await this.read(p.tableName, p.key);
      }),
    );
    const transactional = command === "TransactWriteItems";
    let result: { output: unknown };
    try {
      result = await next();
    } catch (error) {
      const name = (error as Error).name;
      // A failed condition (alone or cancelling a transaction) is billed; a throttled request is not.
      if (name === "ConditionalCheckFailedException" || name === "TransactionCanceledException") {
        for (const p of planned) {
          const table = await this.table(p.tableName);
          this.addWrite(
            source,
            command,
            p.tableName,
            table,
            { kind: p.kind, before: p.before, after: undefined, attempted: p.attempted },
            { transactional, succeeded: false },
          );
        }
      }
      throw error;
    }
    await Promise.all(
      planned.map(async (p) => {
        const table = await this.table(p.tableName);
        const after =
          p.kind === "put"
            ? p.attempted
            : p.kind === "update"
              ? await this.read(p.tableName, p.key)
              : p.kind === "conditionCheck"
                ? p.before
                : undefined;
        this.addWrite(
          source,
          command,
          p.tableName,
          table,
          { kind: p.kind, before: p.before, after, attempted: p.attempted },
          { transactional, succeeded: true },
        );
      }),
    );
    return result;
  }

  private other(source: string, call: SdkCall, output: Record<string, unknown>): void {
    const input = call.input;
    if (FIXED_SOURCES.has(source)) {
      this.count(source, call, false);
      return;
    }
    if (call.clientName === "SQSClient") {
      const sqs = this.data.sqs;
      sqs.calls++;
      switch (call.commandName) {
        case "SendMessageCommand":
          sqs.messagesSent++;
          sqs.billedRequests += sqsBilledRequests(sqsPayload(input));
          break;
        case "SendMessageBatchCommand": {
          const entries = (input.Entries as { MessageBody?: string }[]) ?? [];
          sqs.messagesSent += entries.length;
          sqs.billedRequests += sqsBilledRequests(entries.reduce((n, e) => n + sqsPayload(e), 0));
          break;
        }
        case "ReceiveMessageCommand": {
          const messages = (output.Messages as { Body?: string }[] | undefined) ?? [];
          if (messages.length === 0) sqs.emptyReceives++;
          sqs.billedRequests += sqsBilledRequests(messages.reduce((n, m) => n + sqsPayload(m), 0));
          this.count(source, call, messages.length === 0);
          return;
        }
        default:
          sqs.billedRequests++;
      }
    } else if (call.clientName === "S3Client") {
      if (call.commandName === "DeleteObjectCommand" || call.commandName === "DeleteObjectsCommand")
        this.data.s3.delete++;
      else if (/^(Put|Copy|List|CreateMultipart|UploadPart|CompleteMultipart)/.test(call.commandName))
        this.data.s3.put++;
      else this.data.s3.get++;
    } else if (call.clientName === "DynamoDBStreamsClient" && call.commandName !== "GetRecordsCommand") {
      // Shard discovery is the event source mapping's own housekeeping, on a timer, not any job's.
      this.count(source, call, true);
      return;
    } else if (call.clientName === "DynamoDBStreamsClient" && call.commandName === "GetRecordsCommand") {
      const records = (output.Records as unknown[] | undefined)?.length ?? 0;
      this.data.streams.getRecords++;
      this.data.streams.records += records;
      if (records === 0) this.data.streams.emptyGetRecords++;
      this.count(source, call, records === 0);
      return;
    } else if (call.commandName === "PostToConnectionCommand") {
      this.data.websocket.postToConnection++;
      this.data.websocket.billedPosts += websocketBilledMessages(bytesOf(input.Data));
    }
    this.count(source, call, false);
  }

  reset(): void {
    this.data = empty();
  }

  snapshot(): MeterSnapshot {
    return structuredClone(this.data);
  }

  uninstall(): void {
    for (const stop of this.stops.splice(0).reverse()) stop();
    this.shadowClient?.destroy();
  }
}

/** Sources whose work is a fixed cost (the sweeper runs once a minute whatever the load), not a run's. */
export const FIXED_SOURCES = new Set(["sweeper"]);

export const totalCalls = (snapshot: MeterSnapshot) =>
  Object.entries(snapshot.calls)
    .filter(([key]) => !FIXED_SOURCES.has(key.split(" ")[0] as string))
    .reduce((n, [, count]) => n + count, 0);

/** What one run used, from a snapshot taken around `runs` runs. */
export function usageOf(snapshot: MeterSnapshot, runs: number, connectionMinutes: number): RunUsage {
  const lambda: RunUsage["lambda"] = {};
  for (const [name, entry] of Object.entries(snapshot.lambda)) {
    if (FIXED_SOURCES.has(name)) continue;
    lambda[name] = {
      invocations: entry.invocations / runs,
      billedMs: entry.billedMs / runs,
      memoryMb: manifest.functions[name as FunctionName]?.memoryMb ?? 128,
    };
  }
  const dynamodb = { tableWru: 0, indexWru: 0, rru: 0 };
  for (const [source, entry] of Object.entries(snapshot.dynamodb)) {
    if (FIXED_SOURCES.has(source)) continue;
    dynamodb.tableWru += entry.tableWru / runs;
    dynamodb.indexWru += entry.indexWru / runs;
    dynamodb.rru += entry.rru / runs;
  }
  return {
    lambda,
    sqsRequests: snapshot.sqs.billedRequests / runs,
    dynamodb,
    s3: { put: snapshot.s3.put / runs, get: snapshot.s3.get / runs },
    streamsReadRequestUnits: snapshot.streams.getRecords / runs,
    restRequests: (snapshot.lambda.api?.invocations ?? 0) / runs,
    websocketMessages: (snapshot.websocket.billedPosts + snapshot.websocket.billedInbound) / runs,
    websocketConnectionMinutes: connectionMinutes / runs,
  };
}
