/**
 * Gives a tenant or an API key its own API Gateway key in the usage plan that fits it, and takes it away
 * again. Provisioning is idempotent (a key that exists is found by name and value), so a retry after a
 * partial failure, or the bootstrap on every start, converges.
 */
import {
  APIGatewayClient,
  type ApiKey,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
  GetUsagePlansCommand,
  NotFoundException,
} from "@aws-sdk/client-api-gateway";
import { logger } from "../observability.ts";
import { withoutRequestLog } from "../sdk.ts";
import {
  planOf,
  USAGE_PLANS,
  type UsagePlanName,
  type UsageSubject,
  usageKeyName,
  usageKeyValue,
  usageNamespace,
  usagePlanName,
} from "./usage-keys.ts";

let client: APIGatewayClient | undefined;
const apiGateway = () => {
  client ??= withoutRequestLog(new APIGatewayClient({}));
  return client;
};

/** Plan ids by plan, read once per container: the stack cannot pass them in without a dependency cycle. */
let plans: Promise<Map<UsagePlanName, string>> | undefined;

async function readPlans(namespace: string): Promise<Map<UsagePlanName, string>> {
  const found = new Map<UsagePlanName, string>();
  let position: string | undefined;
  do {
    const page = await apiGateway().send(new GetUsagePlansCommand({ limit: 500, position }));
    for (const plan of page.items ?? []) {
      const name = USAGE_PLANS.find((candidate) => usagePlanName(namespace, candidate) === plan.name);
      if (name !== undefined && plan.id !== undefined) found.set(name, plan.id);
    }
    position = page.position;
  } while (position !== undefined);
  return found;
}

async function planId(plan: UsagePlanName): Promise<string> {
  const namespace = usageNamespace();
  plans ??= readPlans(namespace);
  let ids: Map<UsagePlanName, string>;
  try {
    ids = await plans;
  } catch (error) {
    plans = undefined;
    throw error;
  }
  const id = ids.get(plan);
  if (id === undefined) {
    plans = undefined;
    throw new Error(`No usage plan named ${usagePlanName(namespace, plan)} in this account and region`);
  }
  return id;
}

async function findKey(name: string, value: string): Promise<ApiKey | undefined> {
  let position: string | undefined;
  do {
    const page = await apiGateway().send(
      new GetApiKeysCommand({ nameQuery: name, includeValues: true, limit: 500, position }),
    );
    const key = page.items?.find((item) => item.name === name && item.value === value);
    if (key !== undefined) return key;
    position = page.position;
  } while (position !== undefined);
  return undefined;
}

/** Creates the subject's usage key (or finds it) and puts it in its plan. Returns the key's id. */
export async function provisionUsageBucket(subject: UsageSubject): Promise<string> {
  const namespace = usageNamespace();
  const name = usageKeyName(namespace, subject);
  const value = usageKeyValue(namespace, subject);
  const usagePlanId = await planId(planOf(subject));
  let keyId: string | undefined;
  try {
    const created = await apiGateway().send(
      new CreateApiKeyCommand({
        name,
        value,
        enabled: true,
        description:
          subject.kind === "tenant"
            ? `Requests of tenant ${subject.tenantId}'s users`
            : `Requests of API key ${subject.keyId}`,
      }),
    );
    keyId = created.id;
  } catch (error) {
    if (!(error instanceof ConflictException)) throw error;
    keyId = (await findKey(name, value))?.id;
  }
  if (keyId === undefined) throw new Error(`Usage key ${name} exists but cannot be found`);
  try {
    await apiGateway().send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId, keyType: "API_KEY" }));
  } catch (error) {
    if (!(error instanceof ConflictException)) throw error;
  }
  return keyId;
}

/** Deletes the subject's usage key, which also takes it out of its plan. Nothing to delete is fine. */
export async function releaseUsageBucket(subject: UsageSubject): Promise<void> {
  const namespace = usageNamespace();
  const key = await findKey(usageKeyName(namespace, subject), usageKeyValue(namespace, subject));
  if (key?.id === undefined) return;
  try {
    await apiGateway().send(new DeleteApiKeyCommand({ apiKey: key.id }));
  } catch (error) {
    if (!(error instanceof NotFoundException)) throw error;
  }
}

/**
 * For revocations, which have already taken effect (the authorizer refuses the key): a key left behind
 * only counts toward the account's API key quota, so the failure is logged for an operator, not raised.
 */
export async function releaseUsageBuckets(subjects: UsageSubject[]): Promise<void> {
  const results = await Promise.allSettled(subjects.map((subject) => releaseUsageBucket(subject)));
  results.forEach((result, i) => {
    if (result.status === "rejected") {
      logger.error("Could not delete a revoked key's usage key; delete it by name", {
        usageKey: usageKeyName(usageNamespace(), subjects[i] as UsageSubject),
        error: result.reason,
      });
    }
  });
}

/** Tests swap clients in and out; production code never calls this. */
export function resetUsageBuckets(): void {
  client = undefined;
  plans = undefined;
}
