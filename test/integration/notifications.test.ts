import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, SocketClient, startPlatform, waitForJob } from "../support/platform.ts";
import { bearer, createUser, send } from "./identity-support.ts";

/**
 * Signed webhooks end to end: a loopback receiver checks every signature with the secret it was shown once,
 * and a second receiver that is down for its first requests still gets its delivery after the backoff
 * (1 s here, through NOTIFY_RETRY_BASE_SECONDS, so the test is quick).
 */

interface Received {
  headers: IncomingMessage["headers"];
  raw: string;
  body: any;
}

class Receiver {
  readonly received: Received[] = [];
  requests = 0;
  private waiters: (() => void)[] = [];
  private constructor(
    private readonly server: Server,
    readonly failFirst: number,
  ) {}

  static async start(failFirst = 0): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const self = receiver as Receiver;
        self.requests++;
        if (self.requests <= self.failFirst) {
          response.writeHead(503, { "content-type": "text/plain" }).end("down for maintenance");
          return;
        }
        const raw = Buffer.concat(chunks).toString("utf8");
        self.received.push({ headers: request.headers, raw, body: JSON.parse(raw) });
        for (const wake of self.waiters.splice(0)) wake();
        response.writeHead(204).end();
      });
    });
    receiver = new Receiver(server, failFirst);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  get hostPort(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async waitFor(predicate: (r: Received) => boolean, timeoutMs = 30_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`no matching delivery; got ${JSON.stringify(this.received.map((r) => r.body))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function verified(secret: string, delivery: Received): boolean {
  const header = String(delivery.headers["x-switchboard-signature"] ?? "");
  const expected = `sha256=${createHmac("sha256", secret).update(delivery.raw).digest("hex")}`;
  return header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected));
}

let platform: Platform;
let up: Receiver;
let flaky: Receiver;
let target: { id: string; secret: string };
let flakyTarget: { id: string; secret: string };
const saved = { allow: process.env.SWITCHBOARD_ALLOW_HOSTS, base: process.env.NOTIFY_RETRY_BASE_SECONDS };

beforeAll(async () => {
  up = await Receiver.start();
  flaky = await Receiver.start(3);
  process.env.SWITCHBOARD_ALLOW_HOSTS = `${up.hostPort},${flaky.hostPort}`;
  process.env.NOTIFY_RETRY_BASE_SECONDS = "1";
  platform = await startPlatform();
  const agent = await platform.api("POST", "/v1/agents", {
    name: "noticer",
    provider: "scripted",
    model: "scripted-1",
    script: { rules: [{ match: "go", reply: "fairly sure", confidence: 0.8 }] },
  });
  expect(agent.status, JSON.stringify(agent.body)).toBe(201);
}, 60_000);

afterAll(async () => {
  await platform?.stop();
  await up?.close();
  await flaky?.close();
  process.env.SWITCHBOARD_ALLOW_HOSTS = saved.allow;
  process.env.NOTIFY_RETRY_BASE_SECONDS = saved.base;
});

describe("notification targets", () => {
  it("creates a webhook target whose secret is shown once", async () => {
    const created = await platform.api("POST", "/v1/notification-targets", {
      type: "webhook",
      url: `http://${up.hostPort}/hooks/switchboard`,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^nt_/),
      type: "webhook",
      events: ["approval.requested", "review.notified", "job.failed"],
      secret: expect.stringMatching(/^whsec_/),
    });
    target = created.body;
    const flakyCreated = await platform.api("POST", "/v1/notification-targets", {
      type: "webhook",
      url: `http://${flaky.hostPort}/hook`,
      events: ["job.failed"],
    });
    expect(flakyCreated.status).toBe(201);
    flakyTarget = flakyCreated.body;

    const one = await platform.api("GET", `/v1/notification-targets/${target.id}`);
    expect(one.status).toBe(200);
    expect(one.body.secret).toBeUndefined();
    const list = await platform.api("GET", "/v1/notification-targets");
    expect(list.body.items.map((t: { id: string }) => t.id).sort()).toEqual(
      [target.id, flakyTarget.id].sort(),
    );
    expect(JSON.stringify(list.body)).not.toContain(target.secret);
  });

  it("refuses bad input, addresses the egress guard refuses, and non-admins", async () => {
    const missing = await platform.api("POST", "/v1/notification-targets", {
      type: "webhook",
      url: "not a url",
    });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: "VALIDATION_FAILED", requestId: expect.any(String) });
    const unknownEvent = await platform.api("POST", "/v1/notification-targets", {
      type: "webhook",
      url: `http://${up.hostPort}/x`,
      events: ["job.exploded"],
    });
    expect(unknownEvent.status).toBe(400);
    const privateAddress = await platform.api("POST", "/v1/notification-targets", {
      type: "webhook",
      url: "http://10.1.2.3/hook",
    });
    expect(privateAddress.status).toBe(400);
    expect(JSON.stringify(privateAddress.body.details)).toContain("url");
    const user = await createUser(platform.url, platform.token, "user");
    const refused = await send(platform.url, bearer(user.token), "POST", "/v1/notification-targets", {
      type: "webhook",
      url: `http://${up.hostPort}/x`,
    });
    expect(refused.status).toBe(403);
    expect((await platform.api("GET", "/v1/notification-targets/nt_nothing/deliveries")).status).toBe(404);
  });
});

describe("deliveries", () => {
  it("delivers approval.requested, signed, with the approval's details", async () => {
    const job = await platform.api("POST", "/v1/jobs", {
      workflow: { name: "gated", nodes: [{ id: "gate", type: "approval", message: "Ship it?" }] },
    });
    const delivery = await up.waitFor(
      (r) => r.body.type === "approval.requested" && r.body.jobId === job.body.jobId,
    );
    expect(verified(target.secret, delivery)).toBe(true);
    expect(delivery.body).toMatchObject({
      type: "approval.requested",
      at: expect.any(String),
      tenantId: "default",
      jobId: job.body.jobId,
      nodeId: "gate",
      approvalId: expect.any(String),
      message: "Ship it?",
    });
    expect(delivery.headers["x-switchboard-event"]).toBe("approval.requested");
    expect(verified("not-the-secret", delivery)).toBe(false);
  });

  it("delivers review.notified for a result between notifyAt and autoApproveAt", async () => {
    const job = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "noticed",
        nodes: [
          {
            id: "write",
            type: "agent",
            agent: "noticer",
            input: { prompt: "go" },
            review: { autoApproveAt: 0.9, notifyAt: 0.7 },
          },
        ],
      },
    });
    await waitForJob(platform, job.body.jobId, ["succeeded"]);
    const delivery = await up.waitFor(
      (r) => r.body.type === "review.notified" && r.body.jobId === job.body.jobId,
    );
    expect(verified(target.secret, delivery)).toBe(true);
    expect(delivery.body).toMatchObject({ tenantId: "default", nodeId: "write", confidence: 0.8 });
  });

  it("delivers job.failed to the socket and to both targets, through a receiver that was down", async () => {
    const socket = await SocketClient.open(platform.wsUrl, platform.token);
    try {
      socket.send({ action: "subscribe", all: true });
      await socket.waitFor((m) => m.type === "subscribed");
      const job = await platform.api("POST", "/v1/jobs", {
        workflow: { name: "doomed", nodes: [{ id: "boom", type: "code", code: "throw new Error('kaput')" }] },
      });
      const jobId = job.body.jobId;
      const frame = await socket.waitFor((m) => m.type === "job.failed" && m.jobId === jobId);
      expect(frame.seq).toBeUndefined();

      const delivered = await up.waitFor((r) => r.body.type === "job.failed" && r.body.jobId === jobId);
      expect(verified(target.secret, delivered)).toBe(true);

      const late = await flaky.waitFor((r) => r.body.type === "job.failed" && r.body.jobId === jobId, 60_000);
      expect(verified(flakyTarget.secret, late)).toBe(true);
      expect(flaky.requests).toBe(4);
      expect(late.raw).toBe(delivered.raw);

      const deliveries = await platform.api("GET", `/v1/notification-targets/${flakyTarget.id}/deliveries`);
      expect(deliveries.status).toBe(200);
      const record = deliveries.body.items.find((d: { jobId?: string }) => d.jobId === jobId);
      expect(record).toMatchObject({
        targetId: flakyTarget.id,
        type: "job.failed",
        status: "delivered",
        attempts: 4,
        lastStatusCode: 204,
        deliveredAt: expect.any(String),
      });
      expect(late.headers["x-switchboard-delivery"]).toBe(record.id);
    } finally {
      await socket.close();
    }
  }, 90_000);

  it("records a test delivery, and every delivery is listed with its status", async () => {
    const test = await platform.api("POST", `/v1/notification-targets/${target.id}/test`);
    expect(test.status).toBe(202);
    const delivery = await up.waitFor((r) => r.body.type === "test");
    expect(verified(target.secret, delivery)).toBe(true);
    const deadline = Date.now() + 10_000;
    let listed: any[] = [];
    while (Date.now() < deadline) {
      listed = (await platform.api("GET", `/v1/notification-targets/${target.id}/deliveries`)).body.items;
      if (listed.find((d) => d.id === test.body.deliveryId)?.status === "delivered") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed.find((d) => d.id === test.body.deliveryId)).toMatchObject({
      status: "delivered",
      attempts: 1,
    });
    expect(listed.map((d) => d.type).sort()).toEqual(
      ["approval.requested", "job.failed", "review.notified", "test"].sort(),
    );
  });

  it("publishes every notification to the stage's SNS topic too, with filterable attributes", async () => {
    const types = platform.twin.published.map((m) => m.attributes.type);
    expect(new Set(types)).toEqual(new Set(["approval.requested", "review.notified", "job.failed"]));
    const failed = platform.twin.published.find((m) => m.attributes.type === "job.failed");
    expect(failed).toMatchObject({
      topicArn: platform.twin.env.NOTIFICATIONS_TOPIC_ARN,
      subject: "Switchboard job.failed (default)",
      attributes: { tenantId: "default" },
    });
    expect(JSON.parse(failed?.message ?? "{}")).toMatchObject({ type: "job.failed", tenantId: "default" });
  });

  it("the twin's SNS answers the SDK as SNS does", async () => {
    const client = new SNSClient({ endpoint: platform.twin.endpoints.awsServices, region: "us-east-1" });
    const sent = await client.send(
      new PublishCommand({ TopicArn: platform.twin.env.NOTIFICATIONS_TOPIC_ARN, Message: "hello" }),
    );
    expect(sent.MessageId).toEqual(expect.any(String));
    await expect(
      client.send(new PublishCommand({ TopicArn: "arn:aws:sns:us-east-1:000000000000:nope", Message: "x" })),
    ).rejects.toMatchObject({ name: "NotFoundException" });
    await expect(
      client.send(new PublishCommand({ TopicArn: platform.twin.env.NOTIFICATIONS_TOPIC_ARN, Message: "" })),
    ).rejects.toMatchObject({ name: "InvalidParameterException" });
  });

  it("a deleted target is gone", async () => {
    expect((await platform.api("DELETE", `/v1/notification-targets/${flakyTarget.id}`)).status).toBe(204);
    expect((await platform.api("GET", `/v1/notification-targets/${flakyTarget.id}`)).status).toBe(404);
    expect((await platform.api("DELETE", `/v1/notification-targets/${flakyTarget.id}`)).status).toBe(404);
  });
});
