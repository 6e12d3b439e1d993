import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { manifest } from "#infra/manifest";
import { dynamo, sqsClient } from "../../aws.ts";
import { optionalEnv, requireEnv } from "../../config.ts";
import { tableName } from "../../db.ts";
import { AppError } from "../../errors.ts";
import { logger } from "../../observability.ts";
import { defineRoute, type RouteTable } from "../api.ts";

const QueueStatus = z.object({
  name: z.string(),
  visible: z.number(),
  inFlight: z.number(),
  delayed: z.number(),
  dlq: z.object({ name: z.string(), visible: z.number() }),
});

async function queueDepth(url: string) {
  const { Attributes = {} } = await sqsClient().send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

async function queues() {
  return Promise.all(
    manifest.queues.map(async (queue) => {
      const [main, dlq] = await Promise.all([
        queueDepth(requireEnv(queue.urlEnv)),
        queueDepth(requireEnv(queue.dlq.urlEnv)),
      ]);
      return { name: queue.name, ...main, dlq: { name: queue.dlq.name, visible: dlq.visible } };
    }),
  );
}

export const systemRoutes: RouteTable = {
  health: defineRoute({
    summary: "Liveness: answers without touching any dependency",
    response: z.object({ status: z.literal("ok") }),
    handle: async () => ({ status: "ok" }),
  }),
  ready: defineRoute({
    summary: "Readiness: the table and the queues answer",
    response: z.object({ status: z.string(), checks: z.record(z.string(), z.string()) }),
    handle: async () => {
      const checks: Record<string, string> = {};
      await Promise.all([
        dynamo()
          .send(new GetCommand({ TableName: tableName(), Key: { pk: "HEALTH", sk: "HEALTH" } }))
          .then(() => {
            checks.table = "ok";
          })
          .catch((error: Error) => {
            logger.warn("Readiness: table check failed", { error: error.name });
            checks.table = "unavailable";
          }),
        queues()
          .then(() => {
            checks.queues = "ok";
          })
          .catch((error: Error) => {
            logger.warn("Readiness: queue check failed", { error: error.name });
            checks.queues = "unavailable";
          }),
      ]);
      const ok = Object.values(checks).every((value) => value === "ok");
      if (!ok) throw new AppError(503, "SERVICE_UNAVAILABLE", "A dependency is not ready", checks);
      return { status: "ready", checks };
    },
  }),
  systemStatus: defineRoute({
    summary: "Queue depths, dead letters and configured providers",
    response: z.object({ version: z.string(), queues: z.array(QueueStatus), providers: z.array(z.string()) }),
    handle: async () => ({
      version: optionalEnv("SWITCHBOARD_VERSION", "0.1.0"),
      queues: await queues(),
      providers: ["scripted"],
    }),
  }),
};
