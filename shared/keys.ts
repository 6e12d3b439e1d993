/**
 * Every key of the table. Tenant-owned items start with `T#<tenant>`, so a query cannot cross tenants by
 * accident. The only global items are the two credential lookups (email → user, API key id → key), which
 * login and the authorizer need before they know the tenant; they hold nothing but that pointer.
 */

const pad = (n: number, width: number) => String(n).padStart(width, "0");

export const keys = {
  tenant: (tenantId: string) => ({ pk: `T#${tenantId}`, sk: "TENANT" }),
  tenantsIndex: () => "TENANTS",

  user: (tenantId: string, userId: string) => ({ pk: `T#${tenantId}`, sk: `USER#${userId}` }),
  usersIndex: (tenantId: string) => `T#${tenantId}#USERS`,
  emailLookup: (email: string) => ({ pk: `EMAIL#${email.toLowerCase()}`, sk: "EMAIL" }),

  apiKey: (tenantId: string, keyId: string) => ({ pk: `T#${tenantId}`, sk: `KEY#${keyId}` }),
  apiKeyLookup: (keyId: string) => ({ pk: `APIKEY#${keyId}`, sk: "APIKEY" }),
  apiKeysIndex: (tenantId: string) => `T#${tenantId}#KEYS`,

  refreshFamily: (tenantId: string, familyId: string) => ({ pk: `T#${tenantId}`, sk: `RT#${familyId}` }),

  jobPk: (tenantId: string, jobId: string) => `T#${tenantId}#J#${jobId}`,
  job: (tenantId: string, jobId: string) => ({ pk: keys.jobPk(tenantId, jobId), sk: "A#JOB" }),
  step: (tenantId: string, jobId: string, nodeId: string, itemIndex?: number) => ({
    pk: keys.jobPk(tenantId, jobId),
    sk: itemIndex === undefined ? `S#${nodeId}` : `S#${nodeId}#${pad(itemIndex, 6)}`,
  }),
  event: (tenantId: string, jobId: string, seq: number) => ({
    pk: keys.jobPk(tenantId, jobId),
    sk: `E#${pad(seq, 10)}`,
  }),
  eventSk: (seq: number) => `E#${pad(seq, 10)}`,
  jobsIndex: (tenantId: string) => `T#${tenantId}#JOBS`,
  jobsByStatusIndex: (tenantId: string, status: string) => `T#${tenantId}#JOBS#S#${status}`,
  jobsByWorkflowIndex: (tenantId: string, workflowId: string) => `T#${tenantId}#JOBS#W#${workflowId}`,
  jobSortKey: (createdAt: string, jobId: string) => `${createdAt}#${jobId}`,
  idempotency: (tenantId: string, key: string) => ({ pk: `T#${tenantId}#IDEM#${key}`, sk: "IDEM" }),

  connection: (tenantId: string, connectionId: string) => ({
    pk: `T#${tenantId}#C#${connectionId}`,
    sk: "CONN",
  }),
  jobSubscribers: (tenantId: string, jobId: string) => `T#${tenantId}#SUB#J#${jobId}`,
  tenantSubscribers: (tenantId: string) => `T#${tenantId}#SUB#ALL`,
  subscription: (subscribersPk: string, connectionId: string) => ({
    pk: subscribersPk,
    sk: `C#${connectionId}`,
  }),
} as const;

/** Item kinds by sort-key prefix, as the stream filter and the fanout see them. */
export const SK_PREFIX = { step: "S#", event: "E#", job: "A#JOB" } as const;
