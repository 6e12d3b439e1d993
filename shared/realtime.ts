import { ClientMessage, type ServerMessage } from "#events/ws";
import { accessScope, mayAccess } from "./auth/ownership.ts";
import { batchFrames } from "./fanout.ts";
import type { Principal } from "./http/api.ts";
import { logger } from "./observability.ts";
import { sendToConnection } from "./sockets.ts";
import {
  addSubscription,
  deleteConnection,
  putConnection,
  removeSubscription,
  SubscriptionLimitError,
} from "./stores/connections.ts";
import { creatorOf } from "./stores/creators.ts";
import { jobExists, listEvents } from "./stores/jobs.ts";

const at = () => new Date().toISOString();

export async function connect(connectionId: string, principal: Principal): Promise<void> {
  await putConnection(principal.tenantId, connectionId, principal);
}

export async function disconnect(connectionId: string, principal: Principal): Promise<void> {
  await deleteConnection(principal.tenantId, connectionId);
}

async function send(connectionId: string, principal: Principal, message: ServerMessage): Promise<boolean> {
  const result = await sendToConnection(connectionId, message);
  if (result === "gone") await deleteConnection(principal.tenantId, connectionId);
  return result === "sent";
}

/**
 * Handles one client frame. A subscription with `since` first replays the job's timeline after that
 * sequence number and then goes live. The subscription is stored before the replay is read, so an event
 * written in between arrives twice rather than never: clients drop repeats by `seq`.
 */
export async function handleClientMessage(connectionId: string, principal: Principal, raw: string | null) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw ?? "");
  } catch {
    await send(connectionId, principal, {
      type: "error",
      at: at(),
      code: "BAD_REQUEST",
      message: "Message is not valid JSON",
    });
    return;
  }
  const result = ClientMessage.safeParse(parsed);
  if (!result.success) {
    const message = result.error.issues
      .map((i) => `${i.path.join(".") || "message"}: ${i.message}`)
      .join("; ");
    await send(connectionId, principal, { type: "error", at: at(), code: "VALIDATION_FAILED", message });
    return;
  }
  const msg = result.data;
  try {
    await handle(connectionId, principal, msg);
  } catch (error) {
    if (!(error instanceof SubscriptionLimitError)) throw error;
    await send(connectionId, principal, {
      type: "error",
      at: at(),
      code: "LIMIT_EXCEEDED",
      message: error.message,
    });
  }
}

async function handle(connectionId: string, principal: Principal, msg: ClientMessage): Promise<void> {
  switch (msg.action) {
    case "ping":
      await send(connectionId, principal, { type: "pong", at: at() });
      return;
    case "unsubscribe":
      await removeSubscription(
        principal.tenantId,
        connectionId,
        "jobId" in msg ? { jobId: msg.jobId } : { all: true },
      );
      await send(connectionId, principal, {
        type: "unsubscribed",
        at: at(),
        ...("jobId" in msg ? { jobId: msg.jobId } : { all: true }),
      });
      return;
    case "subscribe": {
      const scope = await accessScope(principal);
      if (!("jobId" in msg)) {
        await addSubscription(
          principal.tenantId,
          connectionId,
          { all: true },
          undefined,
          msg.batch,
          scope.ownerId,
        );
        await send(connectionId, principal, { type: "subscribed", at: at(), all: true });
        return;
      }
      // Another tenant's job looks exactly like a job that does not exist.
      // So does, under owner-only access, a job someone else started.
      const job = await jobExists(principal.tenantId, msg.jobId);
      const allowed =
        scope.ownerId === undefined ||
        mayAccess(scope, await creatorOf("job", principal.tenantId, msg.jobId));
      if (job === undefined || !allowed) {
        await send(connectionId, principal, {
          type: "error",
          at: at(),
          code: "NOT_FOUND",
          message: `Job ${msg.jobId} not found`,
        });
        return;
      }
      // A `since` subscription takes every event after `since` from the fanout, and replays only what the
      // timeline holds already, without waiting for the stream consumer: an event not stored yet is stored
      // after this subscription was counted, so the consumer that stores it also sends it here. (The two may
      // then arrive out of order, or twice: clients order and drop repeats by seq.) Without `since`, the
      // subscription goes on from the job's seq as read above.
      await addSubscription(
        principal.tenantId,
        connectionId,
        { jobId: msg.jobId },
        msg.since ?? job.seq,
        msg.batch,
      );
      if (
        !(await send(connectionId, principal, {
          type: "subscribed",
          at: at(),
          jobId: msg.jobId,
          seq: job.seq,
        }))
      )
        return;
      if (msg.since !== undefined) {
        let since = msg.since;
        for (;;) {
          const page = await listEvents(principal.tenantId, msg.jobId, since, 500);
          // A batch subscriber gets the replay as batch frames too: a page is one or a few messages.
          const frames: ServerMessage[] =
            msg.batch === true ? batchFrames(msg.jobId, page.items) : page.items;
          for (const frame of frames) {
            if (!(await send(connectionId, principal, frame))) return;
          }
          const last = page.items.at(-1);
          if (last === undefined || page.cursor === undefined) break;
          since = last.seq;
        }
        logger.debug("Replayed timeline", { jobId: msg.jobId, since: msg.since });
      }
      return;
    }
  }
}
