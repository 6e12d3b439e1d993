import { request as httpRequest } from "node:http";
import { credentialScope, type JsonService, type RawRequest, type RawResponse } from "./protocol.ts";

/**
 * SQS in front of fauxqs. fauxqs names queues `http://sqs.<region>.localhost:<port>/…`, a host that does not
 * resolve on every machine, and the SDK sends each call to its QueueUrl's host unless the client was built with
 * an explicit endpoint, which application code must not do. So the functions get queue URLs on this server
 * (`http://127.0.0.1:<port>/000000000000/<name>`, the shape AWS uses), and each call is forwarded to fauxqs with
 * the URL translated both ways. Operations fauxqs lacks can be added to `operations` later.
 */
export function createSqsFront(options: {
  fauxqsPort: number;
  publicOrigin: () => string;
  defaultRegion: string;
}): JsonService {
  const fauxqsOrigin = (region: string) => `http://sqs.${region}.localhost:${options.fauxqsPort}`;

  const toFauxqs = (queueUrl: string, region: string): string => {
    try {
      return `${fauxqsOrigin(region)}${new URL(queueUrl).pathname}`;
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

  const forward = (operation: string, request: RawRequest): Promise<RawResponse> => {
    const region = credentialScope(request.headers).region ?? options.defaultRegion;
    let body = request.body;
    try {
      const input = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      if (typeof input.QueueUrl === "string") {
        input.QueueUrl = toFauxqs(input.QueueUrl, region);
        body = Buffer.from(JSON.stringify(input));
      }
    } catch {
      // Not JSON: fauxqs answers with the error SQS would give.
    }
    const headers = { ...request.headers, host: `sqs.${region}.localhost:${options.fauxqsPort}` };
    headers["content-length"] = String(body.length);

    return new Promise<RawResponse>((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: "127.0.0.1",
          port: options.fauxqsPort,
          method: request.method,
          path: request.url,
          headers,
          signal: request.signal,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            let responseBody: Buffer | string = Buffer.concat(chunks);
            const statusCode = response.statusCode ?? 502;
            if (
              statusCode < 300 &&
              (operation === "CreateQueue" || operation === "GetQueueUrl" || operation === "ListQueues")
            ) {
              const output = JSON.parse(responseBody.toString("utf8")) as {
                QueueUrl?: string;
                QueueUrls?: string[];
              };
              if (output.QueueUrl) output.QueueUrl = toPublic(output.QueueUrl);
              if (output.QueueUrls) output.QueueUrls = output.QueueUrls.map(toPublic);
              responseBody = JSON.stringify(output);
            }
            const passed: Record<string, string> = {};
            for (const name of ["content-type", "x-amzn-query-error", "x-amzn-errortype"]) {
              const value = response.headers[name];
              if (typeof value === "string") passed[name] = value;
            }
            resolve({ statusCode, headers: passed, body: responseBody });
          });
        },
      );
      upstream.on("error", reject);
      upstream.end(body);
    });
  };

  return {
    name: "SQS",
    targetPrefix: "AmazonSQS",
    contentType: "application/x-amz-json-1.0",
    operations: {},
    forward,
  };
}
