import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTwin, type Twin } from "#infra/local/twin";
import { addSdkHook, invocationScope, scopeInvocations } from "../bench/sdk-hooks.ts";
import { ADMIN_EMAIL, ADMIN_PASSWORD, login, request } from "../support/platform.ts";

let dataDir: string;
let twin: Twin | undefined;

const start = () =>
  startTwin({ port: 0, dataDir, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD, quiet: true });

beforeAll(async () => {
  scopeInvocations();
  dataDir = await mkdtemp(join(tmpdir(), "switchboard-recovery-"));
});

afterAll(async () => {
  await twin?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Whether a write of a job item records a result of node `nodeId` (the worker is about to finish it). */
function recordsResultOf(input: Record<string, unknown>, nodeId: string): boolean {
  const raw = input.Item as Record<string, unknown> | undefined;
  if (raw === undefined) return false;
  const item = (raw.pk as { S?: string } | undefined)?.S === undefined ? raw : unmarshall(raw as never);
  const step = (item.steps as Record<string, { s: string }> | undefined)?.[nodeId];
  return item.type === "job" && step !== undefined && step.s === "succeeded";
}

describe("recovery after a crash of everything", () => {
  it("resumes every in-flight job within 60 s of the restart", async () => {
    twin = await start();
    let token = await login(twin.url);
    const api = (base: string, method: string, path: string, body?: unknown) =>
      request<any>(base, method, path, body, { authorization: `Bearer ${token}` });
    // Until the crash, every worker hangs just before recording the result of "work": its attempt stays
    // running with a live lease, and the messages of the jobs behind it wait in the (in-memory) queue.
    const jam = addSdkHook("recovery-jam", async (call, next) => {
      if (
        invocationScope.getStore() !== undefined &&
        call.commandName === "PutItemCommand" &&
        recordsResultOf(call.input, "work")
      )
        return new Promise<never>(() => {});
      return next();
    });
    const workflow = {
      name: "interrupted",
      nodes: [
        // A timeout past PURE_UNCLAIMED_MAX_SECONDS, so the attempt is claimed (running) before it runs.
        {
          id: "work",
          type: "code",
          timeoutSeconds: 90,
          code: "return input.n * 2",
          input: { n: "{% $input.n %}" },
        },
        { id: "after", type: "code", dependsOn: ["work"], code: "return steps.work.output + 1" },
      ],
      output: "{% $steps.after.output %}",
    };
    const ids: string[] = [];
    for (let n = 0; n < 6; n++) {
      const submitted = await api(twin.url, "POST", "/v1/jobs", { workflow, input: { n } });
      expect(submitted.status).toBe(202);
      ids.push(submitted.body.jobId);
    }
    // Wait until at least one attempt is claimed and stuck (running), as a crash would leave it.
    const claimedBy = Date.now() + 30_000;
    for (;;) {
      const jobs = await Promise.all(ids.map((id) => api(twin?.url ?? "", "GET", `/v1/jobs/${id}`)));
      const running = jobs.filter((job) => job.body.steps.some((s: any) => s.status === "running"));
      if (running.length > 0) break;
      if (Date.now() > claimedBy) throw new Error("no attempt got as far as running");
      await new Promise((r) => setTimeout(r, 100));
    }
    await twin.stop();
    jam();

    const restarted = Date.now();
    twin = await start();
    token = await login(twin.url);
    const base = twin.url;
    const outputs = new Map<string, unknown>();
    while (outputs.size < ids.length) {
      if (Date.now() - restarted > 60_000) {
        throw new Error(
          `${ids.length - outputs.size} job(s) had not resumed and finished 60 s after the restart`,
        );
      }
      for (const id of ids) {
        if (outputs.has(id)) continue;
        const job = await api(base, "GET", `/v1/jobs/${id}`);
        if (["succeeded", "failed", "cancelled", "timed_out"].includes(job.body.status)) {
          outputs.set(id, { status: job.body.status, output: job.body.output });
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(ids.map((id) => outputs.get(id))).toEqual(
      ids.map((_, n) => ({ status: "succeeded", output: n * 2 + 1 })),
    );
    // The interrupted attempt ran again as the same attempt: no retry budget spent, no new idempotency key.
    const first = await api(base, "GET", `/v1/jobs/${ids[0]}`);
    expect(first.body.steps.find((s: any) => s.nodeId === "work").attempt).toBe(1);
  }, 150_000);
});
