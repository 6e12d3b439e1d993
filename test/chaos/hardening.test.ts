/**
 * The standing reliability suite for what one tenant could do to the platform: privilege kept past its
 * person, a spinning code step, a catastrophic regular expression, a huge error. Every case is bounded in
 * time and counts its attempts; the table printed at the end says how many held.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_MESSAGE_MAX_BYTES } from "#shared/jobs/bound-error";
import { apiKey, bearer, createKey, createUser, expectOk, send } from "../integration/identity-support.ts";
import { type Platform, request, startPlatform } from "../support/platform.ts";
import { tally } from "./tally.ts";

let platform: Platform;
const score = tally();

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  score.print("reliability: tenant abuse");
  await platform?.stop();
});

const TERMINAL = ["succeeded", "failed", "cancelled", "timed_out"];

async function submit(workflow: unknown, input: unknown = {}): Promise<string> {
  const created = await expectOk(
    platform.api<{ jobId: string }>("POST", "/v1/jobs", { workflow, input }),
    202,
  );
  return created.jobId;
}

async function settle(jobId: string, withinMs: number): Promise<any> {
  const until = Date.now() + withinMs;
  for (;;) {
    const job = (await platform.api<any>("GET", `/v1/jobs/${jobId}`)).body;
    if (TERMINAL.includes(job?.status) || Date.now() > until) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** /health round trips, one after another, until `stop` resolves. */
async function probeHealth(stop: Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  let done = false;
  void stop.finally(() => {
    done = true;
  });
  while (!done) {
    const started = performance.now();
    const response = await fetch(`${platform.url}/health`);
    await response.text();
    samples.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 20));
  }
  return samples;
}

/** How long the spinning step spins: a blocked event loop would hold one /health sample this long. */
const SPIN_SECONDS = 6;

/**
 * What is asserted is what separates a free event loop from a blocked one: no /health sample waits anywhere
 * near the spin. The 100 ms p99 target is a speed figure; `npm run bench` measures it beside the same
 * run's idle /health, since a timed assertion passes or fails with whatever else the machine is doing.
 */
function responsive(samples: number[]): boolean {
  return samples.length > 0 && Math.max(...samples) < (SPIN_SECONDS * 1000) / 2;
}

describe("privilege chains", () => {
  async function chain() {
    const person = await createUser(platform.url, platform.token, "admin");
    const k1 = await createKey(platform.url, bearer(person.token), "admin");
    const k2 = await createKey(platform.url, apiKey(k1.key), "admin");
    expect((await send(platform.url, apiKey(k2.key), "GET", "/v1/audit")).status).toBe(200);
    return { person, k1, k2 };
  }

  it("a key minted by a key dies with the person who started the chain", async () => {
    const { person, k1, k2 } = await chain();
    expect((await platform.api("DELETE", `/v1/users/${person.id}`)).status).toBe(204);

    for (const key of [k1, k2]) {
      for (const path of ["/v1/me", "/v1/audit", "/v1/jobs"]) {
        const status = (await send(platform.url, apiKey(key.key), "GET", path)).status;
        expect(score.record("privilege chains", status === 401), `${path} with ${key.id}`).toBe(true);
      }
    }
  });

  it("a key minted by a key is capped at its person's current role after a demotion", async () => {
    const { person, k2 } = await chain();
    await expectOk(platform.api("PATCH", `/v1/users/${person.id}`, { role: "viewer" }), 200);

    const meAfter = await send<any>(platform.url, apiKey(k2.key), "GET", "/v1/me");
    expect(score.record("privilege chains", meAfter.status === 200 && meAfter.body.role === "viewer")).toBe(
      true,
    );
    const audit = await send(platform.url, apiKey(k2.key), "GET", "/v1/audit");
    expect(score.record("privilege chains", audit.status === 403)).toBe(true);
    const newAdmin = await send(platform.url, apiKey(k2.key), "POST", "/v1/users", {
      email: `escalate-${Date.now()}@switchboard.test`,
      password: "a-long-enough-password",
      role: "admin",
    });
    expect(score.record("privilege chains", newAdmin.status === 403)).toBe(true);
    const mint = await send(platform.url, apiKey(k2.key), "POST", "/v1/api-keys", {
      name: "k3",
      role: "admin",
    });
    expect(score.record("privilege chains", mint.status === 403)).toBe(true);

    // Promoted again, the key gets its own role back: the cap is the person's current role.
    await expectOk(platform.api("PATCH", `/v1/users/${person.id}`, { role: "admin" }), 200);
    const restored = await send<any>(platform.url, apiKey(k2.key), "GET", "/v1/me");
    expect(score.record("privilege chains", restored.body.role === "admin")).toBe(true);
  });
});

describe("a spinning code step", () => {
  it("leaves /health responsive and other tenants' jobs running", async () => {
    const spinner = await submit({
      name: "spin",
      nodes: [{ id: "spin", type: "code", timeoutSeconds: SPIN_SECONDS, code: "while (true) {}" }],
    });
    // Let the spinner be claimed and start spinning before the others arrive.
    await new Promise((r) => setTimeout(r, 500));
    const others = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        submit(
          {
            name: `alongside-${i}`,
            nodes: [
              { id: "a", type: "code", code: "return input.n + 1", input: { n: "{% $input.n %}" } },
              { id: "b", type: "code", dependsOn: ["a"], code: "return steps.a.output * 2" },
            ],
          },
          { n: i },
        ),
      ),
    );
    const spun = settle(spinner, 30_000);
    const samples = await probeHealth(spun);
    const results = await Promise.all(others.map((id) => settle(id, 30_000)));
    const spinnerJob = await spun;

    expect(score.record("spinning code step", responsive(samples))).toBe(true);
    for (const job of results) {
      const held =
        job.status === "succeeded" && job.steps.every((s: any) => s.error?.code !== "LEASE_EXPIRED");
      expect(score.record("spinning code step", held), JSON.stringify(job.steps)).toBe(true);
    }
    expect(
      score.record(
        "spinning code step",
        spinnerJob.status === "failed" && spinnerJob.steps[0].error.code === "CODE_TIMEOUT",
      ),
      JSON.stringify(spinnerJob),
    ).toBe(true);
  });

  it("fails a step that returns something that is not JSON", async () => {
    for (const code of ["return () => 1", "return Symbol('x')", "return undefined"]) {
      const job = await settle(
        await submit({ name: "notjson", nodes: [{ id: "c", type: "code", code }] }),
        15_000,
      );
      expect(
        score.record(
          "not JSON output",
          job.status === "failed" && /output is not JSON/.test(job.steps[0].error.message),
        ),
        JSON.stringify(job.steps),
      ).toBe(true);
    }
  });
});

describe("catastrophic regular expressions", () => {
  it("answers /(a+)+$/ on a long run of a's at once, with /health responsive meanwhile", async () => {
    const jobs = await Promise.all(
      [26, 40, 5_000].map((n) =>
        submit(
          {
            name: `regex-${n}`,
            nodes: [
              {
                id: "r",
                type: "code",
                input: { hit: "{% $contains($input.s, /(a+)+$/) %}" },
                code: "return input.hit",
              },
            ],
          },
          { s: `${"a".repeat(n)}!` },
        ),
      ),
    );
    const settled = Promise.all(jobs.map((id) => settle(id, 20_000)));
    const samples = await probeHealth(settled);
    for (const job of await settled) {
      const held = job.status === "succeeded" && job.steps[0].output === false;
      expect(score.record("catastrophic regex", held), JSON.stringify(job)).toBe(true);
    }
    expect(score.record("catastrophic regex", responsive(samples))).toBe(true);
  });
});

describe("huge errors", () => {
  it("fails the job at once with the real, truncated error", async () => {
    const started = Date.now();
    const jobId = await submit({
      name: "huge-error",
      nodes: [{ id: "boom", type: "code", code: "throw new Error('x'.repeat(5e5))" }],
    });
    const job = await settle(jobId, 20_000);
    const error = job.steps[0].error;

    const held =
      job.status === "failed" &&
      error.code === "CODE_ERROR" &&
      error.message.startsWith("Error: xxxx") &&
      Buffer.byteLength(error.message) <= ERROR_MESSAGE_MAX_BYTES &&
      /truncated: \d+ bytes/.test(error.message);
    expect(score.record("huge errors", held), JSON.stringify(job).slice(0, 2000)).toBe(true);
    console.log(`huge error: job failed ${Date.now() - started} ms after it was submitted`);
    const events = await platform.api<any>("GET", `/v1/jobs/${jobId}/events`);
    expect(score.record("huge errors", events.status === 200)).toBe(true);
    const unauthenticated = await request(platform.url, "GET", `/v1/jobs/${jobId}`);
    expect(unauthenticated.status).toBe(401);
  });
});
