import type { BatchItem, StepMessage } from "#events/steps";
import { getNode } from "../engine/engine.ts";
import { nodeKind } from "../engine/nodes/index.ts";
import { type Command, chunkOf, type JobState } from "../engine/types.ts";
import type { OutgoingStep } from "../queues.ts";

type Run = Extract<Command, { type: "run" }>;

/** The step message a `run` command stands for. */
export function stepMessageFor(state: JobState, command: Run): StepMessage {
  // A forEach node's own step is queued only to fan out (see the engine's `fanOut`).
  const fanOut =
    command.itemIndex === undefined &&
    state.definition?.nodes.find((node) => node.id === command.nodeId)?.forEach !== undefined;
  return {
    v: 1 as const,
    tenantId: state.tenantId,
    jobId: state.jobId,
    nodeId: command.nodeId,
    ...(command.itemIndex === undefined ? {} : { itemIndex: command.itemIndex }),
    attempt: command.attempt,
    ...(state.priority === undefined || state.priority === "normal" ? {} : { priority: state.priority }),
    ...(fanOut ? { fanOut: true as const } : {}),
  };
}

/** One message naming several items of one chunk, run one after another by one worker. */
export function batchMessageFor(state: JobState, nodeId: string, items: BatchItem[]): StepMessage {
  return {
    v: 1 as const,
    tenantId: state.tenantId,
    jobId: state.jobId,
    nodeId,
    attempt: (items[0] as BatchItem).a,
    ...(state.priority === undefined || state.priority === "normal" ? {} : { priority: state.priority }),
    items,
  };
}

/**
 * Items of this node may share one invocation, one after another: its kind is pure (code: no I/O, so a
 * chunk runs in milliseconds) and it does not run on Fargate. Agent and tool items wait on the network, so
 * each keeps its own message and they run side by side.
 */
function batchable(state: JobState, nodeId: string): boolean {
  const node = getNode(state, nodeId);
  const kind = nodeKind(node?.type ?? "");
  return node !== undefined && node.runtime !== "fargate" && kind?.inline === true && kind.pure === true;
}

/**
 * The step messages for a decision's run commands. forEach items that start now, of a pure node (see
 * batchable), go out as one message per chunk instead of one per item, so a chunk's items are claimed with one
 * write and recorded with one write. A back-off (delay), a step that is not an item, or a chunk with a single
 * item to start keeps its own message.
 */
export function stepMessagesFor(state: JobState, runs: Run[]): OutgoingStep[] {
  const outgoing: OutgoingStep[] = [];
  const groups = new Map<string, { nodeId: string; items: BatchItem[] }>();
  const ok = new Map<string, boolean>();
  for (const run of runs) {
    const batch =
      run.itemIndex !== undefined &&
      run.delaySeconds === 0 &&
      (ok.get(run.nodeId) ?? ok.set(run.nodeId, batchable(state, run.nodeId)).get(run.nodeId));
    if (!batch || run.itemIndex === undefined) {
      outgoing.push({ message: stepMessageFor(state, run), delaySeconds: run.delaySeconds });
      continue;
    }
    const id = `${run.nodeId}#${chunkOf(run.itemIndex)}`;
    const group = groups.get(id) ?? { nodeId: run.nodeId, items: [] };
    if (!group.items.some((item) => item.i === run.itemIndex))
      group.items.push({ i: run.itemIndex, a: run.attempt });
    groups.set(id, group);
  }
  for (const { nodeId, items } of groups.values()) {
    const only = items.length === 1 ? (items[0] as BatchItem) : undefined;
    outgoing.push({
      message:
        only === undefined
          ? batchMessageFor(state, nodeId, items)
          : stepMessageFor(state, {
              type: "run",
              nodeId,
              itemIndex: only.i,
              attempt: only.a,
              delaySeconds: 0,
            }),
      delaySeconds: 0,
    });
  }
  return outgoing;
}
