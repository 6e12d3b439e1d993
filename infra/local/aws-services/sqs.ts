import { randomUUID } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { createFairQueues } from "./fair-queues.ts";
import {
  AwsServiceError,
  credentialScope,
  type JsonService,
  type RawRequest,
  type RawResponse,
  requireString,
} from "./protocol.ts";

const JSON_TYPE = "application/x-amz-json-1.0";
/** The calls whose answers the fair queues read or amend. */
const FAIR_OPERATIONS = new Set([
  "ReceiveMessage",
  "DeleteMessage",
  "DeleteMessageBatch",
  "GetQueueAttributes",
  "PurgeQueue",
  "DeleteQueue",
]);

/** AWS keeps the tasks of a queue for a while; `ListMessageMoveTasks` returns at most ten. */
const KEPT_TASKS_PER_SOURCE = 10;
/** How long a message being moved stays hidden from other consumers of the source queue. */
const MOVE_VISIBILITY_SECONDS = 30;

interface MoveTask {
  handle: string;
  sourceArn: string;
  destinationArn: string;
  /** Only echoed back when the caller named it, as AWS does. */
  requestedDestination: boolean;
  maxPerSecond?: number;
  status: "RUNNING" | "COMPLETED" | "CANCELLING" | "CANCELLED" | "FAILED";
  moved: number;
  toMove: number;
  failureReason?: string;
  startedAt: number;
  cancel: boolean;
}

interface ReceivedMessage {
  MessageId?: string;
  ReceiptHandle?: string;
  Body?: string;
  MessageAttributes?: Record<string, unknown>;
}

/**
 * SQS in front of fauxqs. fauxqs names queues `http://sqs.<region>.localhost:<port>/…`, a host that does not
 * resolve on every machine, and the SDK sends each call to its QueueUrl's host unless the client was built with
 * an explicit endpoint, which application code must not do. So the functions get queue URLs on this server
 * (`http://127.0.0.1:<port>/000000000000/<name>`, the shape AWS uses), and each call is forwarded to fauxqs with
 * the URL translated both ways.
 *
 * fauxqs ignores `MessageGroupId` on a standard queue; `fair-queues.ts` makes such a queue deliver fairly
 * between groups, as an SQS fair queue does.
 *
 * fauxqs has no DLQ redrive, so the message move tasks (`StartMessageMoveTask`, `ListMessageMoveTasks`,
 * `CancelMessageMoveTask`) are served here on top of fauxqs's own receive, send and delete.
 */
export function createSqsFront(options: {
  fauxqsPort: number;
  publicOrigin: () => string;
  defaultRegion: string;
}): JsonService {
  const fauxqsHost = (region: string) => `sqs.${region}.localhost:${options.fauxqsPort}`;

  const toFauxqs = (queueUrl: string, region: string): string => {
    try {
      return `http://${fauxqsHost(region)}${new URL(queueUrl).pathname}`;
    } catch {
      return queueUrl;
    }
  };
  const toPublic = (queueUrl: string): string => {
    try {
      return `${options.publicOrigin()}${new URL(queueUrl).pathname}`;
    } catch {
      return queueUrl;
    }
  };
  const regionOf = (request: RawRequest) => credentialScope(request.headers).region ?? options.defaultRegion;

  const post = (
    region: string,
    path: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
    signal?: AbortSignal,
  ): Promise<{ statusCode: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: "127.0.0.1",
          port: options.fauxqsPort,
          method: "POST",
          path,
          headers: { ...headers, host: fauxqsHost(region), "content-length": String(body.length) },
          ...(signal === undefined ? {} : { signal }),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () =>
            resolve({
              statusCode: response.statusCode ?? 502,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
          );
        },
      );
      upstream.on("error", reject);
      upstream.end(body);
    });

  const forward = async (operation: string, request: RawRequest): Promise<RawResponse> => {
    const region = regionOf(request);
    let body = request.body;
    let input: Record<string, unknown> = {};
    try {
      input = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      if (typeof input.QueueUrl === "string") {
        input.QueueUrl = toFauxqs(input.QueueUrl, region);
        body = Buffer.from(JSON.stringify(input));
      }
    } catch {
      // Not JSON: fauxqs answers with the error SQS would give.
    }
    if (operation === "SendMessage" || operation === "SendMessageBatch") {
      const output = await fair.send(region, operation, input);
      if (output !== undefined)
        return { statusCode: 200, headers: { "content-type": JSON_TYPE }, body: JSON.stringify(output) };
    }
    if (operation === "ReceiveMessage") await fair.beforeReceive(region, input);
    const response = await post(region, request.url, request.headers, body, request.signal);
    if (operation === "ReceiveMessage" && input.VisibilityTimeout === 0 && response.statusCode < 300) {
      await showAgain(region, String(input.QueueUrl), response.body);
    }
    let responseBody: Buffer | string = response.body;
    if (response.statusCode < 300 && FAIR_OPERATIONS.has(operation)) {
      const output = JSON.parse(responseBody.toString("utf8") || "{}") as Record<string, unknown>;
      if (operation === "ReceiveMessage") await fair.afterReceive(region, input, output);
      else if (operation === "DeleteMessage" || operation === "DeleteMessageBatch")
        fair.afterDelete(region, operation, input, output);
      else if (operation === "GetQueueAttributes") fair.afterAttributes(input, output);
      else fair.forget(input);
      responseBody = JSON.stringify(output);
    }
    if (
      response.statusCode < 300 &&
      (operation === "CreateQueue" || operation === "GetQueueUrl" || operation === "ListQueues")
    ) {
      const output = JSON.parse(responseBody.toString("utf8")) as { QueueUrl?: string; QueueUrls?: string[] };
      if (output.QueueUrl) output.QueueUrl = toPublic(output.QueueUrl);
      if (output.QueueUrls) output.QueueUrls = output.QueueUrls.map(toPublic);
      responseBody = JSON.stringify(output);
    }
    const passed: Record<string, string> = {};
    for (const name of ["content-type", "x-amzn-query-error", "x-amzn-errortype"]) {
      const value = response.headers[name];
      if (typeof value === "string") passed[name] = value;
    }
    return { statusCode: response.statusCode, headers: passed, body: responseBody };
  };

  /** One SQS call to fauxqs on the twin's own behalf; its errors come back as the SDK would name them. */
  const call = async <T>(region: string, operation: string, input: Record<string, unknown>): Promise<T> => {
    const response = await post(
      region,
      "/",
      { "x-amz-target": `AmazonSQS.${operation}`, "content-type": "application/x-amz-json-1.0" },
      Buffer.from(JSON.stringify(input)),
    );
    const text = response.body.toString("utf8");
    const output = (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>;
    if (response.statusCode >= 300) {
      const type = String(output.__type ?? "InternalFailure").replace(/^.*#/, "");
      throw new AwsServiceError(type, String(output.message ?? output.Message ?? type), response.statusCode);
    }
    return output as T;
  };

  /**
   * In AWS a message received with visibility 0 is visible again at once. fauxqs only notices the expiry at
   * its next receive, so until then the queue's attributes count the message as in flight; a peek must not
   * change the depth it reports, so the messages are made visible explicitly.
   */
  const showAgain = async (region: string, queueUrl: string, output: Buffer) => {
    const { Messages = [] } = JSON.parse(output.toString("utf8") || "{}") as { Messages?: ReceivedMessage[] };
    if (Messages.length === 0) return;
    await call(region, "ChangeMessageVisibilityBatch", {
      QueueUrl: queueUrl,
      Entries: Messages.map((message, index) => ({
        Id: String(index),
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout: 0,
      })),
    });
  };

  /** `arn:aws:sqs:<region>:<account>:<name>` → the queue's URL on fauxqs. */
  const urlOfArn = (arn: string, field: string): { region: string; url: string } => {
    const match = /^arn:aws[\w-]*:sqs:([\w-]+):(\d{12}):([\w.-]+)$/.exec(arn);
    if (!match)
      throw new AwsServiceError("InvalidAddress", `Value ${arn} for parameter ${field} is invalid.`);
    const [, region = options.defaultRegion, account, name] = match;
    return { region, url: `http://${fauxqsHost(region)}/${account}/${name}` };
  };

  const queueArn = async (region: string, url: string, field: string): Promise<string> => {
    try {
      const { Attributes } = await call<{ Attributes?: Record<string, string> }>(
        region,
        "GetQueueAttributes",
        {
          QueueUrl: url,
          AttributeNames: ["QueueArn"],
        },
      );
      return Attributes?.QueueArn ?? "";
    } catch (error) {
      if (error instanceof AwsServiceError && error.type.includes("QueueDoesNotExist")) {
        throw new AwsServiceError(
          "ResourceNotFoundException",
          `The resource that you specified for the ${field} parameter doesn't exist.`,
        );
      }
      throw error;
    }
  };

  /** The queues whose redrive policy names `dlqArn`: where a move without a destination sends messages back. */
  const sourcesOf = async (region: string, dlqArn: string): Promise<string[]> => {
    const { QueueUrls = [] } = await call<{ QueueUrls?: string[] }>(region, "ListQueues", {});
    const sources: string[] = [];
    for (const url of QueueUrls) {
      const { Attributes } = await call<{ Attributes?: Record<string, string> }>(
        region,
        "GetQueueAttributes",
        {
          QueueUrl: url,
          AttributeNames: ["QueueArn", "RedrivePolicy"],
        },
      );
      if (!Attributes?.RedrivePolicy || !Attributes.QueueArn) continue;
      try {
        const policy = JSON.parse(Attributes.RedrivePolicy) as { deadLetterTargetArn?: string };
        if (policy.deadLetterTargetArn === dlqArn) sources.push(Attributes.QueueArn);
      } catch {
        // A malformed policy names no DLQ.
      }
    }
    return sources;
  };

  const fair = createFairQueues({
    call,
    onError: (error) => console.error("twin SQS: releasing held fair-queue messages failed", error),
  });

  const tasks = new Map<string, MoveTask[]>();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      setTimeout(resolve, Math.max(0, ms)).unref();
    });

  /**
   * Moves messages until the source is empty: receive, send to the destination, then delete, so a failure
   * in between leaves a message in one queue or (at worst) both, never in none. The rate is kept per
   * one-second window, which is as loose as AWS is about it.
   */
  const runMove = async (task: MoveTask, region: string, sourceUrl: string, destinationUrl: string) => {
    let windowStart = Date.now();
    let inWindow = 0;
    try {
      while (!task.cancel) {
        if (Date.now() - windowStart >= 1000) {
          windowStart = Date.now();
          inWindow = 0;
        }
        const budget = Math.min(10, (task.maxPerSecond ?? Number.POSITIVE_INFINITY) - inWindow);
        if (budget <= 0) {
          await sleep(windowStart + 1000 - Date.now());
          continue;
        }
        const { Messages = [] } = await call<{ Messages?: ReceivedMessage[] }>(region, "ReceiveMessage", {
          QueueUrl: sourceUrl,
          MaxNumberOfMessages: budget,
          VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ["All"],
        });
        if (Messages.length === 0) break;
        inWindow += Messages.length;
        const { Successful = [], Failed = [] } = await call<{
          Successful?: { Id: string }[];
          Failed?: { Id: string; Message?: string }[];
        }>(region, "SendMessageBatch", {
          QueueUrl: destinationUrl,
          Entries: Messages.map((message, index) => ({
            Id: String(index),
            MessageBody: message.Body ?? "",
            ...(message.MessageAttributes === undefined
              ? {}
              : { MessageAttributes: message.MessageAttributes }),
          })),
        });
        const sent = new Set(Successful.map((entry) => entry.Id));
        const moved = Messages.filter((_, index) => sent.has(String(index)));
        if (moved.length > 0) {
          await call(region, "DeleteMessageBatch", {
            QueueUrl: sourceUrl,
            Entries: moved.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          });
        }
        task.moved += moved.length;
        if (Failed.length > 0) {
          throw new Error(`${Failed.length} messages could not be sent: ${Failed[0]?.Message ?? "unknown"}`);
        }
      }
      task.status = task.cancel ? "CANCELLED" : "COMPLETED";
    } catch (error) {
      task.status = "FAILED";
      task.failureReason = error instanceof Error ? error.message : String(error);
    }
  };

  const startMessageMoveTask = async (input: Record<string, unknown>) => {
    const sourceArn = requireString(input, "SourceArn");
    const source = urlOfArn(sourceArn, "SourceArn");
    await queueArn(source.region, source.url, "SourceArn");
    if (
      (tasks.get(sourceArn) ?? []).some((task) => task.status === "RUNNING" || task.status === "CANCELLING")
    ) {
      throw new AwsServiceError(
        "UnsupportedOperation",
        "There is already a task running. Only one active task is allowed for each source queue arn at a given time.",
      );
    }
    const sources = await sourcesOf(source.region, sourceArn);
    if (sources.length === 0) {
      throw new AwsServiceError(
        "UnsupportedOperation",
        "Source queue must be configured as a Dead Letter Queue.",
      );
    }
    let destinationArn = typeof input.DestinationArn === "string" ? input.DestinationArn : undefined;
    const requestedDestination = destinationArn !== undefined;
    if (destinationArn === undefined) {
      // AWS returns each message to the queue it came from; the twin does not track that per message.
      if (sources.length > 1) {
        throw new AwsServiceError(
          "UnsupportedOperation",
          "The local twin needs a DestinationArn when several queues share this dead-letter queue.",
        );
      }
      destinationArn = sources[0] as string;
    }
    const destination = urlOfArn(destinationArn, "DestinationArn");
    await queueArn(destination.region, destination.url, "DestinationArn");
    const rate = input.MaxNumberOfMessagesPerSecond;
    if (
      rate !== undefined &&
      (typeof rate !== "number" || !Number.isInteger(rate) || rate < 1 || rate > 500)
    ) {
      throw new AwsServiceError(
        "InvalidParameterValue",
        "Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500.",
      );
    }
    const { Attributes } = await call<{ Attributes?: Record<string, string> }>(
      source.region,
      "GetQueueAttributes",
      {
        QueueUrl: source.url,
        AttributeNames: ["ApproximateNumberOfMessages"],
      },
    );
    const task: MoveTask = {
      handle: Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn })).toString("base64"),
      sourceArn,
      destinationArn,
      requestedDestination,
      ...(typeof rate === "number" ? { maxPerSecond: rate } : {}),
      status: "RUNNING",
      moved: 0,
      toMove: Number(Attributes?.ApproximateNumberOfMessages ?? 0),
      startedAt: Date.now(),
      cancel: false,
    };
    tasks.set(sourceArn, [task, ...(tasks.get(sourceArn) ?? [])].slice(0, KEPT_TASKS_PER_SOURCE));
    // Asynchronous, as in AWS: the caller polls ListMessageMoveTasks. runMove records its own failure.
    void runMove(task, source.region, source.url, destination.url);
    return { TaskHandle: task.handle };
  };

  const listMessageMoveTasks = async (input: Record<string, unknown>) => {
    const sourceArn = requireString(input, "SourceArn");
    const source = urlOfArn(sourceArn, "SourceArn");
    await queueArn(source.region, source.url, "SourceArn");
    const max = input.MaxResults === undefined ? 1 : Number(input.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw new AwsServiceError(
        "InvalidParameterValue",
        "Value for parameter MaxResults is invalid. Reason: Must be between 1 and 10.",
      );
    }
    return {
      Results: (tasks.get(sourceArn) ?? []).slice(0, max).map((task) => ({
        // Only a running task can be cancelled, so only a running task shows its handle.
        ...(task.status === "RUNNING" ? { TaskHandle: task.handle } : {}),
        Status: task.status,
        SourceArn: task.sourceArn,
        ...(task.requestedDestination ? { DestinationArn: task.destinationArn } : {}),
        ...(task.maxPerSecond === undefined ? {} : { MaxNumberOfMessagesPerSecond: task.maxPerSecond }),
        ApproximateNumberOfMessagesMoved: task.moved,
        ApproximateNumberOfMessagesToMove: task.toMove,
        ...(task.failureReason === undefined ? {} : { FailureReason: task.failureReason }),
        StartedTimestamp: task.startedAt,
      })),
    };
  };

  const cancelMessageMoveTask = async (input: Record<string, unknown>) => {
    const handle = requireString(input, "TaskHandle");
    const task = [...tasks.values()].flat().find((candidate) => candidate.handle === handle);
    if (task === undefined || task.status !== "RUNNING") {
      throw new AwsServiceError("ResourceNotFoundException", "Task does not exist or is not running.");
    }
    task.cancel = true;
    task.status = "CANCELLING";
    return { ApproximateNumberOfMessagesMoved: task.moved };
  };

  return {
    name: "SQS",
    targetPrefix: "AmazonSQS",
    contentType: "application/x-amz-json-1.0",
    operations: {
      StartMessageMoveTask: startMessageMoveTask,
      ListMessageMoveTasks: listMessageMoveTasks,
      CancelMessageMoveTask: cancelMessageMoveTask,
    },
    forward,
  };
}
