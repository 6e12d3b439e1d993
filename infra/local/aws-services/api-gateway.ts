import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { UsagePlanLimits } from "#infra/stack/limits";
import { AwsServiceError, type RawRequest, type RawResponse, type RestService } from "./protocol.ts";

/**
 * The API Gateway control plane, the operations the application uses: CreateApiKey, GetApiKeys, DeleteApiKey,
 * CreateUsagePlanKey and GetUsagePlans (REST-JSON). The usage plans are the stack's, given at start; the keys
 * and which plan holds them are kept in a file under the data directory, so a restart keeps every tenant's
 * and key's bucket as DynamoDB keeps the tenants. The REST front asks `usageFor` which plan a usage key is
 * in, as API Gateway does before it throttles.
 */

const ALPHANUMERIC = /^[A-Za-z0-9]{20,128}$/;
const MAX_PAGE = 500;
const DEFAULT_PAGE = 25;

export interface LocalUsagePlan {
  id: string;
  name: string;
  description?: string;
  apiStages: { apiId: string; stage: string }[];
  limits: UsagePlanLimits;
}

interface LocalApiKey {
  id: string;
  name: string;
  value: string;
  description?: string;
  enabled: boolean;
  customerId?: string;
  /** Epoch ms. */
  createdDate: number;
  lastUpdatedDate: number;
}

interface Stored {
  keys: LocalApiKey[];
  /** Plan id → ids of the keys it holds. */
  planKeys: Record<string, string[]>;
}

export interface LocalApiGateway {
  service: RestService;
  /**
   * The plan that governs requests naming `value` on a stage, with the key's id (the bucket's owner); undefined
   * when no enabled key has that value, or its plans do not cover the stage: API Gateway answers 403 then.
   */
  usageFor(
    value: string,
    stage: { apiId: string; stage: string },
  ): { keyId: string; plan: LocalUsagePlan } | undefined;
}

/** Six lower-case alphanumerics, like API Gateway's ids, stable for a name so stored memberships survive restarts. */
export const usagePlanId = (name: string) =>
  createHash("sha256")
    .update(name)
    .digest("base64url")
    .replace(/[^a-z0-9]/g, "")
    .slice(0, 6);

const newKeyId = () => randomBytes(8).toString("hex").slice(0, 10);

const notFound = (message: string) => new AwsServiceError("NotFoundException", message, 404);
const badRequest = (message: string) => new AwsServiceError("BadRequestException", message, 400);
const conflict = (message: string) => new AwsServiceError("ConflictException", message, 409);

function json(statusCode: number, body?: unknown): RawResponse {
  return {
    statusCode,
    headers: { "content-type": "application/json" },
    body: body === undefined ? "" : JSON.stringify(body),
  };
}

function readJson(request: RawRequest): Record<string, unknown> {
  if (request.body.length === 0) return {};
  try {
    const parsed = JSON.parse(request.body.toString("utf8")) as unknown;
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // Answered below, as API Gateway answers a body it cannot read.
  }
  throw new AwsServiceError("SerializationException", "Request body is not a JSON object", 400);
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw badRequest(`Invalid ${field}: must be a string`);
  return value;
}

function page<T>(items: T[], url: URL): { item: T[]; position?: string } {
  const limitText = url.searchParams.get("limit");
  const limit = limitText === null ? DEFAULT_PAGE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw badRequest(`Invalid limit: must be between 1 and ${MAX_PAGE}`);
  }
  const position = url.searchParams.get("position");
  const start = position === null ? 0 : Number(Buffer.from(position, "base64url").toString("utf8"));
  if (!Number.isInteger(start) || start < 0) throw badRequest("Invalid position");
  const slice = items.slice(start, start + limit);
  const next =
    start + limit < items.length ? Buffer.from(String(start + limit)).toString("base64url") : undefined;
  return { item: slice, ...(next === undefined ? {} : { position: next }) };
}

export function createApiGateway(options: { plans: LocalUsagePlan[]; file: string }): LocalApiGateway {
  const plans = new Map(options.plans.map((plan) => [plan.id, plan]));
  const keys = new Map<string, LocalApiKey>();
  /** Value → id: the REST front looks a usage key up on every request. */
  const byValue = new Map<string, string>();
  const planKeys = new Map<string, Set<string>>([...plans.keys()].map((id) => [id, new Set<string>()]));

  try {
    const stored = JSON.parse(readFileSync(options.file, "utf8")) as Stored;
    for (const key of stored.keys) {
      keys.set(key.id, key);
      byValue.set(key.value, key.id);
    }
    for (const [planId, ids] of Object.entries(stored.planKeys)) {
      const members = planKeys.get(planId);
      for (const id of ids) if (members !== undefined && keys.has(id)) members.add(id);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }

  function save(): void {
    const stored: Stored = {
      keys: [...keys.values()],
      planKeys: Object.fromEntries([...planKeys].map(([id, members]) => [id, [...members]])),
    };
    mkdirSync(dirname(options.file), { recursive: true });
    const temporary = `${options.file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(stored, null, 2));
    renameSync(temporary, options.file);
  }

  const view = (key: LocalApiKey, includeValue: boolean) => ({
    id: key.id,
    name: key.name,
    ...(includeValue ? { value: key.value } : {}),
    ...(key.description === undefined ? {} : { description: key.description }),
    ...(key.customerId === undefined ? {} : { customerId: key.customerId }),
    enabled: key.enabled,
    createdDate: key.createdDate / 1000,
    lastUpdatedDate: key.lastUpdatedDate / 1000,
    stageKeys: [],
  });

  function createApiKey(body: Record<string, unknown>): RawResponse {
    const value =
      optionalString(body, "value") ??
      randomBytes(30)
        .toString("base64url")
        .replace(/[^A-Za-z0-9]/g, "")
        .slice(0, 40);
    if (!ALPHANUMERIC.test(value)) {
      throw badRequest("API Key value should be 20 to 128 alphanumeric characters");
    }
    if (byValue.has(value)) throw conflict("API Key already exists");
    const name = optionalString(body, "name") ?? "";
    if (name.length > 1024) throw badRequest("API Key name must be at most 1024 characters");
    const description = optionalString(body, "description");
    const customerId = optionalString(body, "customerId");
    if (body.enabled !== undefined && typeof body.enabled !== "boolean") throw badRequest("Invalid enabled");
    const now = Date.now();
    const key: LocalApiKey = {
      id: newKeyId(),
      name,
      value,
      ...(description === undefined ? {} : { description }),
      ...(customerId === undefined ? {} : { customerId }),
      // As in API Gateway, a key is created disabled unless the request says otherwise.
      enabled: body.enabled === true,
      createdDate: now,
      lastUpdatedDate: now,
    };
    keys.set(key.id, key);
    byValue.set(key.value, key.id);
    save();
    return json(201, view(key, true));
  }

  function getApiKeys(url: URL): RawResponse {
    const nameQuery = url.searchParams.get("name");
    const customerId = url.searchParams.get("customerId");
    const includeValues = url.searchParams.get("includeValues") === "true";
    const matching = [...keys.values()]
      .filter((key) => nameQuery === null || key.name.startsWith(nameQuery))
      .filter((key) => customerId === null || key.customerId === customerId)
      .sort((a, b) => a.createdDate - b.createdDate || a.id.localeCompare(b.id))
      .map((key) => view(key, includeValues));
    return json(200, page(matching, url));
  }

  function deleteApiKey(id: string): RawResponse {
    const key = keys.get(id);
    if (key === undefined) throw notFound("Invalid API Key identifier specified");
    keys.delete(id);
    byValue.delete(key.value);
    for (const members of planKeys.values()) members.delete(id);
    save();
    return json(202);
  }

  function createUsagePlanKey(planId: string, body: Record<string, unknown>): RawResponse {
    const plan = plans.get(planId);
    if (plan === undefined) throw notFound("Invalid Usage Plan ID specified");
    const keyId = optionalString(body, "keyId");
    const keyType = optionalString(body, "keyType");
    if (keyId === undefined || keyType === undefined) throw badRequest("keyId and keyType are required");
    if (keyType !== "API_KEY") throw badRequest(`Invalid keyType: ${keyType}`);
    const key = keys.get(keyId);
    if (key === undefined) throw notFound("Invalid API Key identifier specified");
    const members = planKeys.get(planId) ?? new Set<string>();
    if (members.has(keyId)) throw conflict("Usage Plan already contains specified API key");
    // A key may be in one plan per stage, so that one plan decides its limits there.
    for (const [otherId, others] of planKeys) {
      const other = plans.get(otherId);
      const shared = other?.apiStages.some((a) =>
        plan.apiStages.some((b) => a.apiId === b.apiId && a.stage === b.stage),
      );
      if (otherId !== planId && shared && others.has(keyId)) {
        throw conflict(`API Key ${keyId} is already associated with usage plan ${otherId} on the same stage`);
      }
    }
    members.add(keyId);
    planKeys.set(planId, members);
    save();
    return json(201, { id: key.id, type: "API_KEY", name: key.name, value: key.value });
  }

  function getUsagePlans(url: URL): RawResponse {
    const keyId = url.searchParams.get("keyId");
    const matching = [...plans.values()]
      .filter((plan) => keyId === null || planKeys.get(plan.id)?.has(keyId))
      .map((plan) => ({
        id: plan.id,
        name: plan.name,
        ...(plan.description === undefined ? {} : { description: plan.description }),
        apiStages: plan.apiStages,
        throttle: { rateLimit: plan.limits.rateLimit, burstLimit: plan.limits.burstLimit },
        quota: { limit: plan.limits.quota.limit, offset: 0, period: plan.limits.quota.period },
      }));
    return json(200, page(matching, url));
  }

  async function handle(request: RawRequest): Promise<RawResponse> {
    const url = new URL(request.url, "http://apigateway.local");
    const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const [collection, id, child] = segments;
    const method = request.method;
    if (collection === "apikeys" && segments.length === 1) {
      if (method === "POST") return createApiKey(readJson(request));
      if (method === "GET") return getApiKeys(url);
    }
    if (collection === "apikeys" && segments.length === 2 && method === "DELETE")
      return deleteApiKey(id ?? "");
    if (collection === "usageplans" && segments.length === 1 && method === "GET") return getUsagePlans(url);
    if (collection === "usageplans" && child === "keys" && segments.length === 3 && method === "POST") {
      return createUsagePlanKey(id ?? "", readJson(request));
    }
    throw new AwsServiceError(
      "UnknownOperationException",
      `API Gateway in the local twin does not serve ${method} ${url.pathname}`,
      404,
    );
  }

  return {
    service: { name: "API Gateway", signingName: "apigateway", handle },
    usageFor(value, stage) {
      const id = byValue.get(value);
      const key = id === undefined ? undefined : keys.get(id);
      if (key === undefined || !key.enabled) return undefined;
      for (const [planId, members] of planKeys) {
        const plan = plans.get(planId);
        if (!members.has(key.id) || plan === undefined) continue;
        if (plan.apiStages.some((s) => s.apiId === stage.apiId && s.stage === stage.stage)) {
          return { keyId: key.id, plan };
        }
      }
      return undefined;
    },
  };
}
