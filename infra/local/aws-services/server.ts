import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.ts";
import {
  AwsServiceError,
  credentialScope,
  type JsonService,
  type RawRequest,
  type RawResponse,
  type RestService,
} from "./protocol.ts";

/** SQS allows 1 MiB messages; a batch of ten with attributes stays well under this. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface AwsServicesServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new AwsServiceError("RequestEntityTooLarge", "Request body too large", 413));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function send(response: ServerResponse, result: RawResponse): void {
  const body = typeof result.body === "string" ? Buffer.from(result.body) : result.body;
  response.writeHead(result.statusCode, {
    ...result.headers,
    "content-length": String(body.length),
    "x-amzn-requestid": randomUUID(),
  });
  response.end(body);
}

function jsonError(error: AwsServiceError, contentType: string): RawResponse {
  return {
    statusCode: error.statusCode,
    headers: { "content-type": contentType, "x-amzn-errortype": error.type },
    body: JSON.stringify({ __type: error.type, message: error.message }),
  };
}

async function dispatchJson(
  service: JsonService,
  operation: string,
  request: RawRequest,
): Promise<RawResponse> {
  const implementation = service.operations[operation];
  if (!implementation) {
    if (service.forward) return service.forward(operation, request);
    throw new AwsServiceError(
      "UnknownOperationException",
      `${service.name} in the local twin does not serve ${operation}`,
    );
  }
  let input: unknown;
  try {
    input = request.body.length === 0 ? {} : JSON.parse(request.body.toString("utf8"));
  } catch {
    throw new AwsServiceError("SerializationException", "Request body is not valid JSON");
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new AwsServiceError("SerializationException", "Request body must be a JSON object");
  }
  const output = await implementation(input as Record<string, unknown>, request);
  return {
    statusCode: 200,
    headers: { "content-type": service.contentType },
    body: JSON.stringify(output ?? {}),
  };
}

/**
 * One loopback server for the AWS APIs that have no emulator of their own. Each service lives in its own file
 * and is registered here; the SDK reaches it through `AWS_ENDPOINT_URL_<SERVICE>`.
 */
export async function startAwsServices(options: {
  jsonServices: JsonService[];
  restServices?: RestService[];
  preferredPort?: number;
  log: Logger;
}): Promise<AwsServicesServer> {
  const { log } = options;
  const byPrefix = new Map(options.jsonServices.map((service) => [service.targetPrefix, service]));
  const bySigningName = new Map(
    (options.restServices ?? []).map((service) => [service.signingName, service]),
  );

  const server: Server = createServer(async (request, response) => {
    const aborter = new AbortController();
    response.on("close", () => {
      if (!response.writableFinished) aborter.abort();
    });
    const target = request.headers["x-amz-target"];
    const jsonService =
      typeof target === "string" ? byPrefix.get(target.slice(0, target.lastIndexOf("."))) : undefined;
    const contentType = jsonService?.contentType ?? "application/x-amz-json-1.1";
    try {
      const raw: RawRequest = {
        method: request.method ?? "GET",
        url: request.url ?? "/",
        headers: request.headers,
        body: await readBody(request),
        signal: aborter.signal,
      };
      if (typeof target === "string") {
        if (!jsonService)
          throw new AwsServiceError("UnknownOperationException", `No local service for ${target}`);
        send(response, await dispatchJson(jsonService, target.slice(target.lastIndexOf(".") + 1), raw));
        return;
      }
      const restService = bySigningName.get(credentialScope(request.headers).service ?? "");
      if (!restService)
        throw new AwsServiceError("UnknownOperationException", "No local service for this request", 404);
      send(response, await restService.handle(raw));
    } catch (error) {
      if (aborter.signal.aborted) return;
      if (error instanceof AwsServiceError) {
        send(response, jsonError(error, contentType));
        return;
      }
      log.error(`${target ?? request.url} failed`, error);
      send(
        response,
        jsonError(
          new AwsServiceError("InternalFailure", "Internal failure in the local twin", 500),
          contentType,
        ),
      );
    }
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.removeListener("error", reject);
        resolve();
      });
    });
  try {
    await listen(options.preferredPort ?? 0);
  } catch {
    await listen(0);
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
