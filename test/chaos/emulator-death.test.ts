/**
 * The twin supervises DynamoDB Local: kill its Java process and the twin restarts it with backoff, keeping
 * the data, while /ready says 503 and /health (liveness) keeps answering.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, expectOk } from "../integration/identity-support.ts";
import { login, type Platform, request, startPlatform } from "../support/platform.ts";
import { tally } from "./tally.ts";

let platform: Platform;
const score = tally();

beforeAll(async () => {
  platform = await startPlatform({ ownDynamoDb: true, startChainMs: 0 });
});

afterAll(async () => {
  score.print("reliability: emulator death");
  await platform?.stop();
});

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("emulator death", () => {
  it("restarts a killed DynamoDB Local, says so on /ready, and keeps the data", async () => {
    const user = await createUser(platform.url, platform.token, "user");
    const pid = platform.twin.dynamoPid();
    expect(pid).toBeTypeOf("number");

    process.kill(pid as number, "SIGKILL");

    const down = await until(
      () => request<any>(platform.url, "GET", "/ready"),
      (r) => r.status === 503,
      10_000,
    );
    expect(
      score.record("emulator death", down.status === 503 && down.body.code === "SERVICE_UNAVAILABLE"),
    ).toBe(true);
    // Liveness: the process and its event loop are fine, so /health answers while the table is away.
    const health = await request<any>(platform.url, "GET", "/health");
    expect(score.record("emulator death", health.status === 200)).toBe(true);

    // A request that needs the table says the truth too: unavailable, try again, not an internal error.
    const signIn = await request<any>(platform.url, "POST", "/v1/auth/login", {
      email: user.email,
      password: "a-long-enough-password",
    });
    if (signIn.status !== 200) {
      expect(
        score.record("emulator death", signIn.status === 503 && signIn.body.code === "SERVICE_UNAVAILABLE"),
        JSON.stringify(signIn.body),
      ).toBe(true);
    }

    const started = Date.now();
    const back = await until(
      () => request<any>(platform.url, "GET", "/ready"),
      (r) => r.status === 200,
      90_000,
    );
    console.log(`DynamoDB Local back after ${Date.now() - started} ms`);
    expect(score.record("emulator death", back.status === 200)).toBe(true);
    expect(platform.twin.dynamoPid()).not.toBe(pid);

    // The data written before the death is all there: the user, its sign-in, and the admin's.
    const token = await login(platform.url);
    const fetched = await request<any>(platform.url, "GET", `/v1/users/${user.id}`, undefined, {
      authorization: `Bearer ${token}`,
    });
    expect(score.record("emulator death", fetched.status === 200 && fetched.body.email === user.email)).toBe(
      true,
    );
    const job = await expectOk(
      request<any>(
        platform.url,
        "POST",
        "/v1/jobs",
        { workflow: { name: "after", nodes: [{ id: "a", type: "code", code: "return 1" }] } },
        { authorization: `Bearer ${token}` },
      ),
      202,
    );
    const done = await until(
      () =>
        request<any>(platform.url, "GET", `/v1/jobs/${job.jobId}`, undefined, {
          authorization: `Bearer ${token}`,
        }),
      (r) => r.body?.status === "succeeded",
      30_000,
    );
    expect(score.record("emulator death", done.body.status === "succeeded"), JSON.stringify(done.body)).toBe(
      true,
    );
  }, 150_000);
});
