import { type ZodType, z } from "zod";
import { ErrorBody } from "#events/errors";
import { type RouteContract, routeList, statusesOf } from "#events/routes";
import type { RouteTable } from "./api.ts";

type Json = Record<string, unknown>;
type Io = "input" | "output";

const COMPONENTS = "#/components/schemas/";

/**
 * Converts zod schemas to JSON Schema, moving every schema the contract names (`.meta({ id })`) into
 * `components.schemas` so generated clients get `Job`, `Workflow` and friends. A named schema whose request
 * form differs from its response form (defaults make fields optional on the way in) gets a second component,
 * `<Name>Input`.
 */
class SchemaCollector {
  readonly components: Record<string, Json> = {};
  private readonly seen = new Map<string, string>();

  convert(type: ZodType | undefined, io: Io): Json | undefined {
    if (type === undefined) return undefined;
    const converted = z.toJSONSchema(type, {
      io,
      unrepresentable: "any",
      target: "draft-2020-12",
    }) as Json & { $defs?: Record<string, Json> };
    const { $defs = {}, $schema: _schema, ...root } = converted;
    const names = new Map<string, string>();
    for (const [id, definition] of Object.entries($defs)) {
      const body = JSON.stringify(definition);
      const outputForm = this.seen.get(id);
      const name = io === "input" && outputForm !== undefined && outputForm !== body ? `${id}Input` : id;
      if (!this.seen.has(id)) this.seen.set(id, body);
      names.set(id, name);
    }
    const rename = (value: unknown): unknown =>
      JSON.parse(
        JSON.stringify(value).replace(/"#\/\$defs\/([^"]+)"/g, (_match, id: string) =>
          JSON.stringify(`${COMPONENTS}${names.get(decodeURIComponent(id)) ?? id}`),
        ),
      );
    for (const [id, definition] of Object.entries($defs)) {
      this.components[names.get(id) ?? id] ??= rename(definition) as Json;
    }
    return rename(root) as Json;
  }
}

function queryParameters(collector: SchemaCollector, type: ZodType | undefined) {
  const json = collector.convert(type, "input") as
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
 * OpenAPI 3.1, generated from the contract's routes (`events/routes.ts`) and the same zod schemas that
 * validate requests, so the document cannot drift from what the API accepts and answers.
 */
export function openApiDocument(routes: RouteTable, serverUrl?: string): Json {
  const collector = new SchemaCollector();
  // Responses first, so a named schema's component is its response form and requests get `<Name>Input`.
  const responses = new Map<string, Json | undefined>();
  for (const route of routeList) {
    const definition = routes[route.id];
    responses.set(route.id, collector.convert(route.response ?? definition?.response, "output"));
  }
  const errorSchema = collector.convert(ErrorBody, "output");
  const paths: Record<string, Json> = {};
  for (const route of routeList) {
    const definition = routes[route.id];
    if (definition === undefined) continue;
    const contract: RouteContract = {
      ...route,
      ...(route.response === undefined && definition.response !== undefined
        ? { response: definition.response }
        : {}),
    };
    const pathParameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const success = responses.get(route.id);
    const operationResponses: Json = {};
    for (const [status, description] of Object.entries(statusesOf(contract))) {
      const code = Number(status);
      const body = code >= 400 ? errorSchema : code === 204 || success === undefined ? undefined : success;
      operationResponses[status] = {
        description,
        ...(code === 429 || code === 503
          ? { headers: { "Retry-After": { schema: { type: "integer" }, description: "Seconds to wait" } } }
          : {}),
        ...(body === undefined ? {} : { content: { "application/json": { schema: body } } }),
      };
    }
    const operation: Json = {
      operationId: route.id,
      summary: route.summary ?? definition.summary ?? route.id,
      parameters: [...pathParameters, ...queryParameters(collector, route.query ?? definition.query)],
      responses: operationResponses,
      ...(route.auth === "authorizer"
        ? { security: [{ bearer: [] }, { apiKey: [] }], "x-roles": route.roles }
        : { security: [] }),
    };
    const body = route.body ?? definition.body;
    if (body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: collector.convert(body, "input") } },
      };
    }
    paths[route.path] ??= {};
    (paths[route.path] as Json)[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchboard API",
      version: process.env.SWITCHBOARD_VERSION ?? "0.1.0",
      description:
        "Run AI-agent workflows. Errors always have the body `Error`. Jobs answer with `id`; `jobId` is the " +
        "same value, kept as an alias.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [{ url: serverUrl ?? "/", description: "This API" }],
    components: {
      schemas: collector.components,
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
      },
    },
    paths,
  };
}
