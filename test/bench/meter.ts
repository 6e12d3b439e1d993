/**
 * Counts the AWS operations the platform performs, by the function invocation that performed them.
 * Lambda invocations are counted on the twin's invoke path (`FunctionRunner.invoke`, which every trigger
 * goes through, see `onInvocation`); SDK calls through the middleware of `sdk-hooks.ts`, which also asks DynamoDB for its
 * consumed capacity (the application does not), so reads and writes are request units as AWS bills them.
 */
import { type FunctionName, manifest } from "#infra/manifest";
import { PRICES, type RunUsage } from "./prices.ts";
import { addSdkHook, invocationScope, onInvocation } from "./sdk-hooks.ts";

type Capacity = { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number };

const READS = new Set([
  "GetItemCommand",
  "QueryCommand",
  "ScanCommand",
  "BatchGetItemCommand",
  "TransactGetItemsCommand",
]);
const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

export interface MeterSnapshot {
  lambda: Record<string, { invocations: number; billedMs: number }>;
  /** By source (`api`, `worker`, … or `event-source` for the twin's pollers). */
  dynamodb: Record<
    string,
    {
      calls: number;
      wru: number;
      rru: number;
      writeItems: number;
      withoutCapacity: number;
      byCommand: Record<string, { calls: number; units: number; items: number }>;
    }
  >;
  sqs: {
    requests: number;
    sends: number;
    messagesSent: number;
    receives: number;
    emptyReceives: number;
    deletes: number;
  };
  streams: { getRecords: number };
  /** Frames out (PostToConnection), frames in (the ws function's `$default` route), and 410s. */
  websocket: { postToConnection: number; inbound: number; gone: number; bytes: number };
  /** Per command name, everything seen. */
  calls: Record<string, number>;
}

function empty(): MeterSnapshot {
  return {
    lambda: {},
    dynamodb: {},
    sqs: { requests: 0, sends: 0, messagesSent: 0, receives: 0, emptyReceives: 0, deletes: 0 },
    streams: { getRecords: 0 },
    websocket: { postToConnection: 0, inbound: 0, gone: 0, bytes: 0 },
    calls: {},
  };
}

function capacityUnits(consumed: unknown): number | undefined {
  if (consumed === undefined || consumed === null) return undefined;
  const list = (Array.isArray(consumed) ? consumed : [consumed]) as Capacity[];
  return list.reduce((sum, c) => sum + Number(c.CapacityUnits ?? 0), 0);
}

function writeItemCount(commandName: string, input: Record<string, unknown>): number {
  if (commandName === "TransactWriteItemsCommand") return ((input.TransactItems as unknown[]) ?? []).length;
  if (commandName === "BatchWriteItemCommand") {
    return Object.values((input.RequestItems as Record<string, unknown[]>) ?? {}).reduce(
      (n, list) => n + list.length,
      0,
    );
  }
  return 1;
}

function bytesOf(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value === "string") return Buffer.byteLength(value);
  if (value instanceof Uint8Array) return value.byteLength;
  return Buffer.byteLength(JSON.stringify(value));
}

function entryOf<T>(map: Record<string, T>, key: string, create: () => T): T {
  const existing = map[key];
  if (existing !== undefined) return existing;
  const created = create();
  map[key] = created;
  return created;
}

export class Meter {
  private data = empty();
  private stops: (() => void)[] = [];

  /** Starts counting: patches the twin's invoke path and adds the SDK hook. */
  install(): this {
    this.stops.push(
      onInvocation(({ name, event, ms }) => {
        const entry = entryOf(this.data.lambda, name, () => ({ invocations: 0, billedMs: 0 }));
        entry.invocations++;
        entry.billedMs += Math.ceil(ms);
        const routeKey = (event as { requestContext?: { routeKey?: string } })?.requestContext?.routeKey;
        if (name === "ws" && routeKey === "$default") this.data.websocket.inbound++;
      }),
    );
    this.stops.push(
      addSdkHook("meter", async (call, next) => {
        const source = invocationScope.getStore()?.function ?? "event-source";
        const isDynamo = call.clientName === "DynamoDBClient";
        if (isDynamo && (READS.has(call.commandName) || WRITES.has(call.commandName))) {
          call.input.ReturnConsumedCapacity = "TOTAL";
        }
        this.data.calls[`${call.clientName}.${call.commandName}`] =
          (this.data.calls[`${call.clientName}.${call.commandName}`] ?? 0) + 1;
        let result: { output: unknown };
        try {
          result = await next();
        } catch (error) {
          if (call.commandName === "PostToConnectionCommand" && (error as Error).name === "GoneException") {
            this.data.websocket.gone++;
          }
          // A failed conditional write is billed as a write too; without its capacity, count one unit per item.
          if (isDynamo && WRITES.has(call.commandName)) this.record(source, call, undefined);
          throw error;
        }
        const output = (result.output ?? {}) as Record<string, unknown>;
        if (isDynamo) this.record(source, call, output);
        else if (call.clientName === "SQSClient") this.recordSqs(call, output);
        else if (call.clientName === "DynamoDBStreamsClient" && call.commandName === "GetRecordsCommand") {
          this.data.streams.getRecords++;
        } else if (call.commandName === "PostToConnectionCommand") {
          this.data.websocket.postToConnection++;
          this.data.websocket.bytes += bytesOf(call.input.Data);
        }
        return result;
      }),
    );
    return this;
  }

  private record(
    source: string,
    call: { commandName: string; input: Record<string, unknown> },
    output: Record<string, unknown> | undefined,
  ) {
    const entry = entryOf(this.data.dynamodb, source, () => ({
      calls: 0,
      wru: 0,
      rru: 0,
      writeItems: 0,
      withoutCapacity: 0,
      byCommand: {},
    }));
    entry.calls++;
    const isWrite = WRITES.has(call.commandName);
    const items = isWrite ? writeItemCount(call.commandName, call.input) : 0;
    entry.writeItems += items;
    let units = capacityUnits(output?.ConsumedCapacity);
    if (units === undefined) {
      // No capacity reported: a small item is 1 WRU (2 in a transaction), a read 1 RRU (strongly consistent).
      entry.withoutCapacity++;
      units = isWrite
        ? items * (call.commandName === "TransactWriteItemsCommand" ? 2 : 1)
        : READS.has(call.commandName)
          ? 1
          : 0;
    }
    if (!isWrite && ["GetItemCommand", "QueryCommand", "ScanCommand"].includes(call.commandName)) {
      // AWS bills a read that finds nothing as one 4 KB unit; DynamoDB Local reports 0 for it.
      units = Math.max(units, call.input.ConsistentRead === true ? 1 : 0.5);
    }
    if (isWrite) entry.wru += units;
    else entry.rru += units;
    const command = entryOf(entry.byCommand, call.commandName.replace(/Command$/, ""), () => ({
      calls: 0,
      units: 0,
      items: 0,
    }));
    command.calls++;
    command.units += units;
    command.items += items;
  }

  private recordSqs(
    call: { commandName: string; input: Record<string, unknown> },
    output: Record<string, unknown>,
  ) {
    const sqs = this.data.sqs;
    const chunks = (bytes: number) => Math.max(1, Math.ceil(bytes / PRICES.sqs.chunkBytes));
    switch (call.commandName) {
      case "SendMessageCommand":
        sqs.sends++;
        sqs.messagesSent++;
        sqs.requests += chunks(bytesOf(call.input.MessageBody));
        break;
      case "SendMessageBatchCommand": {
        const entries = (call.input.Entries as { MessageBody?: string }[]) ?? [];
        sqs.sends++;
        sqs.messagesSent += entries.length;
        sqs.requests += chunks(entries.reduce((n, e) => n + bytesOf(e.MessageBody), 0));
        break;
      }
      case "ReceiveMessageCommand": {
        const messages = (output.Messages as { Body?: string }[]) ?? [];
        // Empty long polls are what an event source mapping costs while idle, not what a run costs.
        if (messages.length === 0) sqs.emptyReceives++;
        else {
          sqs.receives++;
          sqs.requests += chunks(messages.reduce((n, m) => n + bytesOf(m.Body), 0));
        }
        break;
      }
      case "DeleteMessageCommand":
      case "DeleteMessageBatchCommand":
      case "ChangeMessageVisibilityCommand":
      case "ChangeMessageVisibilityBatchCommand":
        sqs.deletes += call.commandName.startsWith("Delete") ? 1 : 0;
        sqs.requests++;
        break;
      default:
        break;
    }
  }

  reset(): void {
    this.data = empty();
  }

  snapshot(): MeterSnapshot {
    return structuredClone(this.data);
  }

  uninstall(): void {
    for (const stop of this.stops.splice(0).reverse()) stop();
  }
}

/**
 * What one run used, from a snapshot taken around it. The sweeper is a fixed cost (one run a minute, whatever
 * the load) and is left out; its cost is reported on its own.
 */
export function usageOf(snapshot: MeterSnapshot, runs: number, connectionMinutes: number): RunUsage {
  const lambda: RunUsage["lambda"] = {};
  for (const [name, entry] of Object.entries(snapshot.lambda)) {
    if (name === "sweeper") continue;
    lambda[name] = {
      invocations: entry.invocations / runs,
      billedMs: entry.billedMs / runs,
      memoryMb: manifest.functions[name as FunctionName]?.memoryMb ?? 128,
    };
  }
  let wru = 0;
  let rru = 0;
  for (const [source, entry] of Object.entries(snapshot.dynamodb)) {
    if (source === "sweeper" || source === "event-source") continue;
    wru += entry.wru;
    rru += entry.rru;
  }
  const restRequests = (snapshot.lambda.api?.invocations ?? 0) / runs;
  return {
    lambda,
    sqsRequests: snapshot.sqs.requests / runs,
    dynamodb: { wru: wru / runs, rru: rru / runs },
    // The fanout's stream reads are made by a Lambda trigger, which AWS does not bill.
    streamsReadRequestUnits: 0,
    restRequests,
    websocketMessages: (snapshot.websocket.postToConnection + snapshot.websocket.inbound) / runs,
    websocketConnectionMinutes: connectionMinutes / runs,
  };
}
