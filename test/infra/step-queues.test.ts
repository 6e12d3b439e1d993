import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STEP_QUEUES } from "#events/queues";
import { type FunctionName, manifest, type QueueSpec } from "#infra/manifest";
import { functionAccess } from "#infra/stack/access";
import { arnOf, logicalId, type Synthesized, statementsOf, synth } from "./synth.ts";

let s: Synthesized;

beforeAll(() => {
  s = synth();
});

afterAll(() => s?.dispose());

const specs = manifest.queues as readonly QueueSpec[];
const specOf = (name: string) => specs.find((spec) => spec.name === name) as QueueSpec;
const roleId = (name: FunctionName) => logicalId(s.stack.functions.get(name).role!);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** Every resource the role's statements allow `action` on. */
function resourcesAllowed(name: FunctionName, action: string): string[] {
  return statementsOf(s.template, roleId(name))
    .filter((statement) => list(statement.Action).includes(action))
    .flatMap((statement) => list(statement.Resource).map((resource) => JSON.stringify(resource)));
}

describe("steps queues by priority", () => {
  it("has one queue per priority, each with a DLQ of its own", () => {
    const names = Object.values(STEP_QUEUES).map((queue) => queue.name);
    expect(names).toEqual(["steps-high", "steps", "steps-low"]);
    const dlqs = names.map((name) => s.stack.jobs.queues.get(name)?.dlq);
    expect(new Set(dlqs.map((dlq) => dlq && logicalId(dlq))).size).toBe(3);
    for (const name of names) {
      const { queue, dlq } = s.stack.jobs.queues.get(name)!;
      const template = s.template.findResources("AWS::SQS::Queue")[logicalId(queue)]!;
      // A standard queue: fairness comes from the message groups on it, which a FIFO queue would serialise.
      expect(template.Properties.FifoQueue).toBeUndefined();
      expect(template.Properties.RedrivePolicy.deadLetterTargetArn).toEqual(arnOf(dlq));
    }
  });

  it("weights the worker's mappings high over normal over low, and gives low a share of its own", () => {
    const concurrency = (name: string) => {
      const { queue } = s.stack.jobs.queues.get(name)!;
      const mappings = Object.values(s.template.findResources("AWS::Lambda::EventSourceMapping")).filter(
        (mapping) => JSON.stringify(mapping.Properties.EventSourceArn) === JSON.stringify(arnOf(queue)),
      );
      expect(mappings).toHaveLength(1);
      expect(mappings[0]!.Properties.FunctionName).toEqual({
        Ref: logicalId(s.stack.functions.get("worker")),
      });
      expect(mappings[0]!.Properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
      return mappings[0]!.Properties.ScalingConfig.MaximumConcurrency as number;
    };
    const [high, normal, low] = ["steps-high", "steps", "steps-low"].map(concurrency);
    expect(high).toBe(specOf("steps-high").consumer.maxConcurrency);
    expect(high).toBeGreaterThan(normal as number);
    expect(normal).toBeGreaterThan(low as number);
    expect(low).toBeGreaterThanOrEqual(2);
  });

  it("lets the worker consume every steps queue and the DLQ consumer every steps DLQ", () => {
    for (const name of ["steps-high", "steps", "steps-low"]) {
      const { queue, dlq } = s.stack.jobs.queues.get(name)!;
      expect(resourcesAllowed("worker", "sqs:ReceiveMessage")).toContain(JSON.stringify(arnOf(queue)));
      expect(resourcesAllowed("worker", "sqs:DeleteMessage")).toContain(JSON.stringify(arnOf(queue)));
      expect(resourcesAllowed("dlq", "sqs:ReceiveMessage")).toContain(JSON.stringify(arnOf(dlq)));
    }
  });

  it("lets every function that sends step messages send to every priority's queue, and no other", () => {
    const senders = (Object.keys(functionAccess) as FunctionName[]).filter(
      (name) => "steps" in ((functionAccess[name] as { queues?: object }).queues ?? {}),
    );
    expect(senders.sort()).toEqual(["api", "dlq", "schedule", "sweeper", "worker"]);
    for (const name of senders) {
      for (const queue of ["steps-high", "steps", "steps-low"]) {
        const arn = JSON.stringify(arnOf(s.stack.jobs.queues.get(queue)!.queue));
        expect(resourcesAllowed(name, "sqs:SendMessage"), `${name} → ${queue}`).toContain(arn);
      }
    }
    const stepArns = ["steps-high", "steps", "steps-low"].map((queue) =>
      JSON.stringify(arnOf(s.stack.jobs.queues.get(queue)!.queue)),
    );
    for (const name of ["authorizer", "ws", "fanout"] as FunctionName[]) {
      const allowed = resourcesAllowed(name, "sqs:SendMessage");
      for (const arn of stepArns) expect(allowed, name).not.toContain(arn);
    }
  });
});
