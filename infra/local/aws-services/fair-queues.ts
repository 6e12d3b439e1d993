import { createHash, randomUUID } from "node:crypto";

/**
 * SQS fair queues on the twin. In AWS a standard queue whose messages carry a `MessageGroupId` delivers
 * fairly between groups: when one group (tenant) has a backlog and a large share of the messages in flight,
 * receives return the other groups' messages first, so their dwell time stays low. fauxqs accepts
 * `MessageGroupId` on a standard queue but drops it and delivers strictly in send order.
 *
 * So the front keeps fauxqs's ready backlog to a small window and holds the rest of the grouped messages
 * itself, one list per group. Whenever the window has room it releases held messages into fauxqs, each
 * time from the group with the fewest messages in flight and ready (the least recently served on a tie):
 * a quiet group's message waits behind at most one window, however long another group's backlog is.
 * Held messages keep the id and send time the sender got, and receives name their `MessageGroupId`.
 */

/** Ready messages fauxqs holds per queue while grouped messages wait in the front: one full receive. */
export const FAIR_WINDOW = 10;
/** fauxqs's message size limit (the queue default); a larger message is left to fauxqs to refuse. */
const MAX_HELD_BYTES = 262_144;
const INVALID_BODY = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export type SqsCall = <T>(region: string, operation: string, input: Record<string, unknown>) => Promise<T>;

interface SendEntry {
  Id: string;
  MessageBody: string;
  DelaySeconds?: number;
  MessageAttributes?: Record<string, MessageAttribute>;
  MessageGroupId?: string;
  [field: string]: unknown;
}

interface MessageAttribute {
  DataType?: string;
  StringValue?: string;
  BinaryValue?: string;
}

interface HeldMessage {
  entry: SendEntry;
  group: string;
  messageId: string;
  sentAt: number;
}

interface Meta {
  group: string;
  /** The id the sender got, when the message was held and so got a new one from fauxqs. */
  messageId?: string;
  sentAt?: number;
}

interface ReceivedMessage {
  MessageId?: string;
  ReceiptHandle?: string;
  Attributes?: Record<string, string>;
  [field: string]: unknown;
}

class FairQueue {
  readonly held = new Map<string, HeldMessage[]>();
  heldCount = 0;
  /** fauxqs ids of grouped messages released or sent straight, not yet received. */
  readonly ready = new Map<string, string>();
  readonly readyByGroup = new Map<string, number>();
  readonly inFlight = new Map<string, number>();
  /** Receipt handle → the message it stands for. */
  readonly handles = new Map<string, { group: string; id: string }>();
  /** fauxqs id → its latest receipt handle: a redelivery replaces the earlier one. */
  readonly latest = new Map<string, string>();
  readonly meta = new Map<string, Meta>();
  readonly served = new Map<string, number>();
  tick = 0;
  pumping: Promise<void> | undefined;
  again = false;
  /**
   * Sends to fauxqs whose answers are not read yet. A receive can take a message before its sender has
   * recorded the id fauxqs gave it, so a receive's answer waits for the sends that were under way.
   */
  readonly sending = new Set<Promise<unknown>>();
}

/** Runs `work` as one of the queue's sends under way. */
async function tracked<T>(queue: FairQueue, work: Promise<T>): Promise<T> {
  queue.sending.add(work);
  try {
    return await work;
  } finally {
    queue.sending.delete(work);
  }
}

const bump = (counts: Map<string, number>, group: string, by: number) => {
  const next = (counts.get(group) ?? 0) + by;
  if (next <= 0) counts.delete(group);
  else counts.set(group, next);
};

/** AWS's MD5 of message attributes: names sorted, each as length-prefixed name, type and value. */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttribute>): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of names) {
    const attribute = attributes[name] as MessageAttribute;
    const type = attribute.DataType ?? "String";
    field(Buffer.from(name, "utf8"));
    field(Buffer.from(type, "utf8"));
    if (type.startsWith("Binary")) {
      parts.push(Buffer.from([2]));
      field(Buffer.from(attribute.BinaryValue ?? "", "base64"));
    } else {
      parts.push(Buffer.from([1]));
      field(Buffer.from(attribute.StringValue ?? "", "utf8"));
    }
  }
  return createHash("md5").update(Buffer.concat(parts)).digest("hex");
}

function holdable(entry: SendEntry): boolean {
  if (typeof entry.MessageGroupId !== "string" || entry.MessageGroupId === "") return false;
  if (entry.DelaySeconds !== undefined && entry.DelaySeconds !== 0) return false;
  if (
    typeof entry.MessageBody !== "string" ||
    entry.MessageBody === "" ||
    INVALID_BODY.test(entry.MessageBody)
  )
    return false;
  const attributes = JSON.stringify(entry.MessageAttributes ?? {});
  return (
    Buffer.byteLength(entry.MessageBody, "utf8") + Buffer.byteLength(attributes, "utf8") < MAX_HELD_BYTES
  );
}

const isFifoUrl = (url: string) => url.endsWith(".fifo");

const wantsGroup = (input: Record<string, unknown>) =>
  [input.MessageSystemAttributeNames, input.AttributeNames].some(
    (names) => Array.isArray(names) && (names.includes("All") || names.includes("MessageGroupId")),
  );

export function createFairQueues(options: { call: SqsCall; onError: (error: unknown) => void }) {
  const queues = new Map<string, FairQueue>();
  const queueOf = (url: string): FairQueue => {
    const key = new URL(url).pathname;
    let queue = queues.get(key);
    if (queue === undefined) {
      queue = new FairQueue();
      queues.set(key, queue);
    }
    return queue;
  };

  const markReady = (queue: FairQueue, id: string, meta: Meta) => {
    queue.meta.set(id, meta);
    queue.ready.set(id, meta.group);
    bump(queue.readyByGroup, meta.group, 1);
  };

  /** The held group to serve next: fewest in flight and ready, then the one served longest ago. */
  const nextGroup = (queue: FairQueue): string | undefined => {
    let best: string | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    let bestServed = Number.POSITIVE_INFINITY;
    for (const group of queue.held.keys()) {
      const load = (queue.inFlight.get(group) ?? 0) + (queue.readyByGroup.get(group) ?? 0);
      const served = queue.served.get(group) ?? -1;
      if (load < bestLoad || (load === bestLoad && served < bestServed)) {
        best = group;
        bestLoad = load;
        bestServed = served;
      }
    }
    return best;
  };

  const releaseOnce = async (region: string, url: string, queue: FairQueue) => {
    while (queue.heldCount > 0 && queue.ready.size < FAIR_WINDOW) {
      const picked: HeldMessage[] = [];
      while (picked.length < Math.min(10, FAIR_WINDOW - queue.ready.size) && queue.heldCount > 0) {
        const group = nextGroup(queue) as string;
        const list = queue.held.get(group) as HeldMessage[];
        const message = list.shift() as HeldMessage;
        if (list.length === 0) queue.held.delete(group);
        queue.heldCount--;
        queue.served.set(group, ++queue.tick);
        // Counted as ready at once, so the next pick sees this group's share grow.
        bump(queue.readyByGroup, group, 1);
        picked.push(message);
      }
      let successful: { Id: string; MessageId: string }[] = [];
      let failed: { Id: string }[] = [];
      try {
        const output = await options.call<{ Successful?: typeof successful; Failed?: typeof failed }>(
          region,
          "SendMessageBatch",
          { QueueUrl: url, Entries: picked.map((held, index) => ({ ...held.entry, Id: String(index) })) },
        );
        successful = output.Successful ?? [];
        failed = output.Failed ?? [];
      } catch (error) {
        failed = picked.map((_, index) => ({ Id: String(index) }));
        options.onError(error);
      }
      for (const held of picked) bump(queue.readyByGroup, held.group, -1);
      for (const sent of successful) {
        const held = picked[Number(sent.Id)] as HeldMessage;
        markReady(queue, sent.MessageId, {
          group: held.group,
          messageId: held.messageId,
          sentAt: held.sentAt,
        });
      }
      if (failed.length > 0) {
        // Back to the head of their groups: a held message is never dropped. The next receive tries again.
        for (const entry of [...failed].reverse()) {
          const held = picked[Number(entry.Id)] as HeldMessage;
          queue.held.set(held.group, [held, ...(queue.held.get(held.group) ?? [])]);
          queue.heldCount++;
        }
        return;
      }
    }
  };

  /** Releases held messages while the window has room; one release at a time per queue. */
  const pump = async (region: string, url: string): Promise<void> => {
    const queue = queueOf(url);
    if (queue.pumping !== undefined) {
      queue.again = true;
      return queue.pumping;
    }
    queue.pumping = (async () => {
      try {
        do {
          queue.again = false;
          await releaseOnce(region, url, queue);
        } while (queue.again);
      } finally {
        queue.pumping = undefined;
      }
    })();
    return tracked(queue, queue.pumping);
  };

  const pumpLater = (region: string, url: string) => {
    pump(region, url).catch(options.onError);
  };

  /**
   * SendMessage and SendMessageBatch on a standard queue. Grouped messages go straight to fauxqs while its
   * window has room and nothing is held; the rest are held. Returns the SQS response.
   */
  const send = async (
    region: string,
    operation: "SendMessage" | "SendMessageBatch",
    input: Record<string, unknown>,
  ): Promise<Record<string, unknown> | undefined> => {
    const url = String(input.QueueUrl ?? "");
    if (url === "" || isFifoUrl(url)) return undefined;
    const entries: SendEntry[] =
      operation === "SendMessageBatch"
        ? Array.isArray(input.Entries)
          ? (input.Entries as SendEntry[])
          : []
        : [{ ...(input as Omit<SendEntry, "Id">), Id: "0" } as SendEntry];
    if (!entries.some((entry) => typeof entry.MessageGroupId === "string")) return undefined;
    // Let fauxqs refuse what SQS refuses (empty batch, duplicate ids, too many entries) as it would.
    if (
      entries.length === 0 ||
      entries.length > 10 ||
      new Set(entries.map((e) => e.Id)).size !== entries.length
    )
      return undefined;
    const queue = queueOf(url);
    const held: { entry: SendEntry; message: HeldMessage }[] = [];
    const direct: SendEntry[] = [];
    for (const entry of entries) {
      const straight = queue.heldCount === 0 && queue.ready.size + direct.length < FAIR_WINDOW;
      if (!straight && holdable(entry)) {
        const message: HeldMessage = {
          entry: Object.fromEntries(
            Object.entries(entry).filter(([name]) => name !== "QueueUrl"),
          ) as SendEntry,
          group: entry.MessageGroupId as string,
          messageId: randomUUID(),
          sentAt: Date.now(),
        };
        held.push({ entry, message });
      } else direct.push(entry);
    }
    let successful: Record<string, unknown>[] = [];
    let failed: Record<string, unknown>[] = [];
    if (direct.length > 0) {
      await tracked(
        queue,
        (async () => {
          if (operation === "SendMessage") {
            const output = await options.call<Record<string, unknown>>(region, "SendMessage", input);
            successful = [{ ...output, Id: "0" }];
          } else {
            const output = await options.call<{
              Successful?: Record<string, unknown>[];
              Failed?: Record<string, unknown>[];
            }>(region, "SendMessageBatch", { ...input, Entries: direct });
            successful = output.Successful ?? [];
            failed = output.Failed ?? [];
          }
          for (const sent of successful) {
            const entry = direct.find((candidate) => candidate.Id === sent.Id);
            if (entry?.MessageGroupId === undefined || typeof sent.MessageId !== "string") continue;
            const meta = { group: entry.MessageGroupId };
            if (entry.DelaySeconds !== undefined && entry.DelaySeconds > 0)
              queue.meta.set(sent.MessageId, meta);
            else markReady(queue, sent.MessageId, meta);
          }
        })(),
      );
    }
    for (const { entry, message } of held) {
      const list = queue.held.get(message.group) ?? [];
      list.push(message);
      queue.held.set(message.group, list);
      queue.heldCount++;
      const attributes = md5OfMessageAttributes(entry.MessageAttributes ?? {});
      successful.push({
        Id: entry.Id,
        MessageId: message.messageId,
        MD5OfMessageBody: createHash("md5").update(entry.MessageBody, "utf8").digest("hex"),
        ...(attributes === undefined ? {} : { MD5OfMessageAttributes: attributes }),
      });
    }
    if (held.length > 0) pumpLater(region, url);
    if (operation === "SendMessage") {
      const { Id: _id, ...output } = successful[0] ?? {};
      return output;
    }
    return { Successful: successful, ...(failed.length > 0 ? { Failed: failed } : {}) };
  };

  /** Before a receive: fill the window, so the receive gets the fairest messages there are. */
  const beforeReceive = async (region: string, input: Record<string, unknown>) => {
    const url = String(input.QueueUrl ?? "");
    if (url !== "" && !isFifoUrl(url)) await pump(region, url);
  };

  /** After a receive: count what went in flight, restore held messages' ids and times, name the groups. */
  const afterReceive = async (
    region: string,
    input: Record<string, unknown>,
    output: Record<string, unknown>,
  ): Promise<void> => {
    const url = String(input.QueueUrl ?? "");
    if (url === "" || isFifoUrl(url)) return;
    const queue = queueOf(url);
    if (queue.sending.size > 0) await Promise.allSettled([...queue.sending]);
    const messages = (output.Messages ?? []) as ReceivedMessage[];
    if (messages.length === 0) {
      // Nothing was ready in fauxqs, so nothing counted as ready is (it expired or was purged).
      queue.ready.clear();
      queue.readyByGroup.clear();
    }
    const peek = input.VisibilityTimeout === 0;
    for (const message of messages) {
      const id = message.MessageId ?? "";
      const meta = queue.meta.get(id);
      if (meta === undefined) continue;
      if (queue.ready.delete(id)) bump(queue.readyByGroup, meta.group, -1);
      if (!peek && message.ReceiptHandle !== undefined) {
        const previous = queue.latest.get(id);
        if (previous !== undefined && queue.handles.delete(previous)) bump(queue.inFlight, meta.group, -1);
        queue.handles.set(message.ReceiptHandle, { group: meta.group, id });
        queue.latest.set(id, message.ReceiptHandle);
        bump(queue.inFlight, meta.group, 1);
      }
      if (meta.messageId !== undefined) message.MessageId = meta.messageId;
      if (message.Attributes !== undefined) {
        if (meta.sentAt !== undefined && message.Attributes.SentTimestamp !== undefined)
          message.Attributes.SentTimestamp = String(meta.sentAt);
      }
      if (wantsGroup(input))
        message.Attributes = { ...(message.Attributes ?? {}), MessageGroupId: meta.group };
    }
    if (queue.heldCount > 0) pumpLater(region, url);
  };

  /** After a delete: the message is done, and its group has one fewer in flight. */
  const afterDelete = (
    region: string,
    operation: "DeleteMessage" | "DeleteMessageBatch",
    input: Record<string, unknown>,
    output: Record<string, unknown>,
  ) => {
    const url = String(input.QueueUrl ?? "");
    if (url === "" || isFifoUrl(url)) return;
    const queue = queueOf(url);
    const handles =
      operation === "DeleteMessage"
        ? [String(input.ReceiptHandle ?? "")]
        : (() => {
            const done = new Set(((output.Successful ?? []) as { Id: string }[]).map((entry) => entry.Id));
            return ((input.Entries ?? []) as { Id: string; ReceiptHandle: string }[])
              .filter((entry) => done.has(entry.Id))
              .map((entry) => entry.ReceiptHandle);
          })();
    for (const handle of handles) {
      const known = queue.handles.get(handle);
      if (known === undefined) continue;
      queue.handles.delete(handle);
      bump(queue.inFlight, known.group, -1);
      if (queue.latest.get(known.id) === handle) {
        queue.latest.delete(known.id);
        queue.meta.delete(known.id);
      }
    }
    if (queue.heldCount > 0) pumpLater(region, url);
  };

  /** Held messages are in the queue as far as its callers can tell. */
  const afterAttributes = (input: Record<string, unknown>, output: Record<string, unknown>) => {
    const url = String(input.QueueUrl ?? "");
    const attributes = output.Attributes as Record<string, string> | undefined;
    if (url === "" || attributes?.ApproximateNumberOfMessages === undefined) return;
    const held = queues.get(new URL(url).pathname)?.heldCount ?? 0;
    attributes.ApproximateNumberOfMessages = String(Number(attributes.ApproximateNumberOfMessages) + held);
  };

  const forget = (input: Record<string, unknown>) => {
    const url = String(input.QueueUrl ?? "");
    if (url !== "") queues.delete(new URL(url).pathname);
  };

  return { send, beforeReceive, afterReceive, afterDelete, afterAttributes, forget };
}
