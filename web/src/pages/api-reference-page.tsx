import { useQuery } from "@tanstack/react-query";
import { useServices } from "../api/services.tsx";
import type { OpenApiDocument, OpenApiOperation } from "../api/types.ts";
import { Empty, QueryState } from "../components/data-state.tsx";
import { JsonView } from "../components/json-view.tsx";
import { PageHeader } from "../components/page-header.tsx";

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

interface Operation {
  method: string;
  path: string;
  op: OpenApiOperation;
}

/** `/v1/jobs/{id}/events` → `/v1/jobs`; paths outside `/v1` (health, readiness, this document) group together. */
function groupOf(path: string): string {
  const [, first, second] = path.split("/");
  return first === "v1" && second ? `/v1/${second}` : "/";
}

function grouped(doc: OpenApiDocument): [string, Operation[]][] {
  const groups = new Map<string, Operation[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const group = groupOf(path);
      groups.set(group, [...(groups.get(group) ?? []), { method: method.toUpperCase(), path, op }]);
    }
  }
  return [...groups.entries()].sort(([a], [b]) => (a === "/" ? -1 : b === "/" ? 1 : a.localeCompare(b)));
}

function schemaOf(content: Record<string, { schema?: unknown }> | undefined): unknown {
  return content?.["application/json"]?.schema;
}

type Schemas = Record<string, unknown>;

/** A named schema is shown with its definition, so a reader need not look it up in `components`. */
function resolved(schema: unknown, schemas: Schemas): unknown {
  const ref = (schema as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/components/schemas/")) return schema;
  const name = ref.slice("#/components/schemas/".length);
  const definition = schemas[name];
  return definition === undefined ? schema : { title: name, ...(definition as object) };
}

/** Every success answer: a route may have more than one (POST /v1/jobs: 202 new, 200 idempotent repeat). */
function successes(op: OpenApiOperation, schemas: Schemas): { status: string; schema: unknown }[] {
  return Object.keys(op.responses ?? {})
    .filter((code) => code.startsWith("2"))
    .map((status) => ({ status, schema: resolved(schemaOf(op.responses?.[status]?.content), schemas) }));
}

function OperationCard({ method, path, op, schemas }: Operation & { schemas: Schemas }) {
  const roles = op["x-roles"];
  const body = resolved(schemaOf(op.requestBody?.content), schemas);
  const ok = successes(op, schemas);
  const params = op.parameters ?? [];
  const id = `op-${op.operationId ?? `${method}-${path}`}`;
  return (
    <article className="card api-op" aria-labelledby={id}>
      <h3 id={id} className="api-op-title">
        <span className={`api-method api-method-${method.toLowerCase()}`}>{method}</span>{" "}
        <span className="mono">{path}</span>
      </h3>
      {op.summary && <p>{op.summary}</p>}
      <p className="small">
        <span className="muted">Roles: </span>
        {roles === undefined ? "public (no credentials)" : roles.join(", ")}
      </p>
      {params.length > 0 && (
        <p className="small">
          <span className="muted">Parameters: </span>
          {params.map((p, i) => (
            <span key={`${p.in}-${p.name}`}>
              {i > 0 && ", "}
              <span className="mono">{p.name}</span> <span className="muted">({p.in})</span>
            </span>
          ))}
        </p>
      )}
      {body !== undefined && (
        <details className="api-schema">
          <summary>Request body</summary>
          <JsonView value={body} label="Request body" />
        </details>
      )}
      {ok.map((response) => (
        <details key={response.status} className="api-schema">
          <summary>Response {response.status}</summary>
          <JsonView value={response.schema} label={`Response ${response.status} schema`} />
        </details>
      ))}
    </article>
  );
}

/** The REST reference, rendered from `/openapi.json`: the document the API generates from its own schemas. */
export function ApiReferencePage() {
  const { api } = useServices();
  const doc = useQuery({ queryKey: ["openapi"], queryFn: api.openApi, staleTime: Number.POSITIVE_INFINITY });
  return (
    <>
      <PageHeader
        title="API"
        meta={`The REST reference${doc.data?.info?.version ? `, version ${doc.data.info.version}` : ""}, generated from the API's own schemas.`}
      />
      <QueryState query={doc} label="the API reference">
        {(d) => {
          const groups = grouped(d);
          const schemas = ((d as { components?: { schemas?: Schemas } }).components?.schemas ??
            {}) as Schemas;
          if (groups.length === 0) return <Empty>The API document lists no operations.</Empty>;
          return (
            <div className="stack">
              {groups.map(([group, operations]) => {
                const headingId = `group-${group.replace(/[^a-z0-9]+/gi, "-")}`;
                return (
                  <section key={group} aria-labelledby={headingId} className="api-group">
                    <h2 id={headingId} className="mono">
                      {group === "/" ? "Service" : group}
                    </h2>
                    <div className="stack">
                      {operations.map((operation) => (
                        <OperationCard
                          key={`${operation.method} ${operation.path}`}
                          {...operation}
                          schemas={schemas}
                        />
                      ))}
                    </div>
                  </section>
                );
              })}
            </div>
          );
        }}
      </QueryState>
    </>
  );
}
