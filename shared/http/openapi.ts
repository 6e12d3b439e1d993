import { type ZodType, z } from "zod";
import { ErrorBody } from "#events/errors";
import { manifest } from "#infra/manifest";
import type { RouteTable } from "./api.ts";

function schema(type: ZodType | undefined, io: "input" | "output"): Record<string, unknown> | undefined {
  if (type === undefined) return undefined;
  return z.toJSONSchema(type, { io, unrepresentable: "any", target: "draft-2020-12" }) as Record<
    string,
    unknown
  >;
}

function queryParameters(type: ZodType | undefined) {
  const json = schema(type, "input") as
    | { properties?: Record<string, unknown>; required?: string[] }
    | undefined;
  return Object.entries(json?.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: json?.required?.includes(name) ?? false,
    schema: property,
  }));
}

/**
 * OpenAPI 3.1, generated from the manifest's routes and the same zod schemas that validate requests, so
 * the document cannot drift from what the API accepts.
 */
export function openApiDocument(routes: RouteTable, serverUrl?: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorResponse = { content: { "application/json": { schema: schema(ErrorBody, "output") } } };
  for (const route of manifest.http.routes) {
    const definition = routes[route.id];
    if (definition === undefined) continue;
    const pathParameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const operation: Record<string, unknown> = {
      operationId: route.id,
      summary: definition.summary ?? route.id,
      parameters: [...pathParameters, ...queryParameters(definition.query)],
      responses: {
        [String(definition.status ?? 200)]: {
          description: "Success",
          ...(definition.response === undefined
            ? {}
            : { content: { "application/json": { schema: schema(definition.response, "output") } } }),
        },
        "400": { description: "Invalid input", ...errorResponse },
        ...(route.auth === "authorizer"
          ? {
              "401": { description: "Missing or invalid credentials", ...errorResponse },
              "403": { description: "Role not allowed", ...errorResponse },
              "404": { description: "Not found", ...errorResponse },
              "429": { description: "Too many requests", ...errorResponse },
            }
          : {}),
        "500": { description: "Internal error", ...errorResponse },
      },
      ...(route.auth === "authorizer"
        ? { security: [{ bearer: [] }, { apiKey: [] }], "x-roles": route.roles }
        : { security: [] }),
    };
    if (definition.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: schema(definition.body, "input") } },
      };
    }
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: { title: "Switchboard API", version: process.env.SWITCHBOARD_VERSION ?? "0.1.0" },
    ...(serverUrl === undefined ? {} : { servers: [{ url: serverUrl }] }),
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
      },
    },
    paths,
  };
}
