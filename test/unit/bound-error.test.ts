import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  boundError,
  boundLogs,
  ERROR_MESSAGE_MAX_BYTES,
  STEP_LOGS_MAX_BYTES,
  truncateUtf8,
} from "#shared/jobs/bound-error";

const s3 = mockClient(S3Client);
const where = { tenantId: "t1", jobId: "j1", step: "boom/1" };

beforeEach(() => {
  s3.reset();
  s3.on(PutObjectCommand).resolves({});
  process.env.PAYLOAD_BUCKET = "payloads";
});

afterEach(() => {
  delete process.env.PAYLOAD_BUCKET;
});

describe("boundError", () => {
  it("leaves a short error as it is and writes nothing", async () => {
    const error = { code: "CODE_ERROR", message: "Error: nope" };
    expect(await boundError(error, where)).toBe(error);
    expect(s3.calls()).toHaveLength(0);
  });

  it("cuts a huge message to the limit and keeps the full text behind the claim check", async () => {
    const message = `Error: ${"x".repeat(500_000)}`;
    const bounded = await boundError({ code: "CODE_ERROR", message }, where);

    expect(Buffer.byteLength(bounded.message)).toBeLessThanOrEqual(ERROR_MESSAGE_MAX_BYTES);
    expect(bounded.message).toMatch(
      /^Error: x+ … \[truncated: 500007 bytes, over the 8192-byte error limit\]$/,
    );
    expect(bounded.full).toEqual({
      $payload: {
        bucket: "payloads",
        key: expect.stringMatching(/^t1\/j1\/boom\/1\/error-/),
        bytes: expect.any(Number),
      },
    });
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(JSON.parse(String(put?.Body))).toEqual({ code: "CODE_ERROR", message });
  });

  it("never splits a character when it cuts", () => {
    const text = "é".repeat(10);
    const cut = truncateUtf8(text, 7);
    expect(cut).toBe("ééé");
    expect(truncateUtf8("abc", 10)).toBe("abc");
  });
});

describe("boundLogs", () => {
  it("keeps whole lines within the limit and says how many it dropped", () => {
    const logs = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(1000, "."));
    const kept = boundLogs(logs);
    expect(kept.slice(0, -1).join("\n").length).toBeLessThanOrEqual(STEP_LOGS_MAX_BYTES);
    expect(kept.at(-1)).toBe(`… ${20 - (kept.length - 1)} more line(s) dropped`);
    expect(boundLogs(["a", "b"])).toEqual(["a", "b"]);
  });
});
