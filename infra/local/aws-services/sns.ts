import { randomUUID } from "node:crypto";
import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { RawRequest, RawResponse, RestService } from "./protocol.ts";

/**
 * Amazon SNS in the twin: `Publish` to the topics it was given, over the Query protocol the SDK speaks to
 * SNS (form-encoded request, XML answer). Nothing is e-mailed locally: each message is kept in memory and
 * appended as a JSON line to the topic's file in the data directory, which is what an e-mail subscriber
 * would have received.
 */

const XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/";

export interface PublishedMessage {
  topicArn: string;
  messageId: string;
  subject?: string;
  message: string;
  attributes: Record<string, string>;
  at: string;
}

const escapeXml = (value: string) =>
  value.replace(
    /[<>&'"]/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c] ?? c,
  );

function xml(statusCode: number, body: string): RawResponse {
  return { statusCode, headers: { "content-type": "text/xml" }, body };
}

function errorXml(statusCode: number, code: string, message: string): RawResponse {
  const type = statusCode >= 500 ? "Receiver" : "Sender";
  return xml(
    statusCode,
    `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

/** `MessageAttributes.entry.1.Name=type&MessageAttributes.entry.1.Value.StringValue=...` → `{ type: ... }`. */
function messageAttributes(form: URLSearchParams): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (let n = 1; form.has(`MessageAttributes.entry.${n}.Name`); n++) {
    const name = form.get(`MessageAttributes.entry.${n}.Name`) ?? "";
    attributes[name] = form.get(`MessageAttributes.entry.${n}.Value.StringValue`) ?? "";
  }
  return attributes;
}

export function createSns(options: { topics: { arn: string; file: string }[] }) {
  const topics = new Map(options.topics.map((topic) => [topic.arn, topic]));
  const published: PublishedMessage[] = [];

  async function publish(form: URLSearchParams): Promise<RawResponse> {
    const topicArn = form.get("TopicArn");
    const message = form.get("Message");
    if (!topicArn)
      return errorXml(400, "InvalidParameter", "Invalid parameter: TopicArn or TargetArn is required");
    if (message === null || message === "")
      return errorXml(400, "InvalidParameter", "Invalid parameter: Empty message");
    if (Buffer.byteLength(message, "utf8") > 256 * 1024) {
      return errorXml(400, "InvalidParameter", "Invalid parameter: Message too long");
    }
    const topic = topics.get(topicArn);
    if (topic === undefined) return errorXml(404, "NotFound", "Topic does not exist");
    const subject = form.get("Subject");
    const record: PublishedMessage = {
      topicArn,
      messageId: randomUUID(),
      ...(subject === null ? {} : { subject }),
      message,
      attributes: messageAttributes(form),
      at: new Date().toISOString(),
    };
    published.push(record);
    await mkdir(dirname(topic.file), { recursive: true });
    await appendFile(topic.file, `${JSON.stringify(record)}\n`);
    return xml(
      200,
      `<PublishResponse xmlns="${XMLNS}"><PublishResult><MessageId>${record.messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
    );
  }

  async function handle(request: RawRequest): Promise<RawResponse> {
    if (request.method !== "POST") return errorXml(400, "InvalidAction", "SNS takes POST requests");
    const form = new URLSearchParams(request.body.toString("utf8"));
    const action = form.get("Action");
    if (action === "Publish") return publish(form);
    return errorXml(400, "InvalidAction", `The local twin does not serve SNS ${action ?? "(no action)"}`);
  }

  const service: RestService = { name: "SNS", signingName: "sns", handle };
  return { service, published };
}
