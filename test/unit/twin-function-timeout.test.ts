import { describe, expect, it } from "vitest";
import { FunctionRunner, type LambdaHandler } from "#infra/local/functions";
import { createLogger } from "#infra/local/log";
import { manifest } from "#infra/manifest";

const runner = (worker: LambdaHandler, timeouts?: { worker: number }) =>
  new FunctionRunner({
    root: ".",
    region: "us-east-1",
    overrides: { worker },
    loadEntries: false,
    ...(timeouts ? { timeouts } : {}),
    log: createLogger({ quiet: true }),
  });

describe("twin function timeouts", () => {
  it("fails an invocation at the function's timeout as Lambda's Sandbox.Timedout", async () => {
    const never = () => new Promise(() => undefined);
    const started = Date.now();
    const failure = await runner(never, { worker: 0.2 })
      .invoke("worker", {})
      .catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toBe("Sandbox.Timedout");
    expect((failure as Error).message).toBe("Task timed out after 0.20 seconds");
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("ignores what a handler returns or throws after its timeout", async () => {
    let late = false;
    const slow = async () => {
      await new Promise((done) => setTimeout(done, 300));
      late = true;
      throw new Error("too late to matter");
    };
    await expect(runner(slow, { worker: 0.1 }).invoke("worker", {})).rejects.toThrow(/timed out/);
    await new Promise((done) => setTimeout(done, 400));
    expect(late).toBe(true);
  });

  it("gives the handler the manifest's timeout when none is set, in its context too", async () => {
    let remaining = 0;
    const quick: LambdaHandler = async (_event, context) => {
      remaining = context.getRemainingTimeInMillis();
      return "done";
    };
    await expect(runner(quick).invoke("worker", {})).resolves.toBe("done");
    expect(remaining).toBeGreaterThan((manifest.functions.worker.timeoutSeconds - 1) * 1000);
    expect(remaining).toBeLessThanOrEqual(manifest.functions.worker.timeoutSeconds * 1000);
  });
});
