/**
 * Every key of the table. Tenant-owned items start with `T#<tenant>`, so a query cannot cross tenants by
 * accident. The only global items are the two credential lookups (email → user, API key id → key), which
 * login and the authorizer need before they know the tenant, and they hold nothing but that pointer; and the
 * login rate-limit counters, keyed by a hash of the email or IP, which exist before any tenant is known.
 * Two operational partitions are global as well, and each of their items names its tenant: the sweep index
 * (`SWEEP#n` on gsi4) and the dead-letter log (`DLQ#`, in stores/dead-letters.ts).
 */

const pad = (n: number, width: number) => String(n).padStart(width, "0");

export const keys = {
  tenant: (tenantId: string) => ({ pk: `T#${tenantId}`, sk: "TENANT" }),
  tenantsIndex: () => "TENANTS",
  /** Tenant-wide controls (resource access, limits): one small item, read on the paths that need it. */
  tenantSettings: (tenantId: string) => ({ pk: `T#${tenantId}`, sk: "SETTINGS" }),

  user: (tenantId: string, userId: string) => ({ pk: `T#${tenantId}`, sk: `USER#${userId}` }),
  usersIndex: (tenantId: string) => `T#${tenantId}#USERS`,
  emailLookup: (email: string) => ({ pk: `EMAIL#${email.toLowerCase()}`, sk: "EMAIL" }),

  apiKey: (tenantId: string, keyId: string) => ({ pk: `T#${tenantId}`, sk: `KEY#${keyId}` }),
  apiKeyLookup: (keyId: string) => ({ pk: `APIKEY#${keyId}`, sk: "APIKEY" }),
  apiKeysIndex: (tenantId: string) => `T#${tenantId}#KEYS`,
  apiKeysByCreatorIndex: (tenantId: string, creatorId: string) => `T#${tenantId}#KEYS#BY#${creatorId}`,
  apiKeySortKey: (createdAt: string, keyId: string) => `${createdAt}#${keyId}`,

  /** One counter per scope, subject (hashed) and window start. */
  rateLimit: (scope: string, subjectHash: string, windowStart: number) => ({
    pk: `RL#${scope}#${subjectHash}`,
    sk: String(windowStart).padStart(13, "0"),
  }),

  refreshFamily: (tenantId: string, familyId: string) => ({ pk: `T#${tenantId}`, sk: `RT#${familyId}` }),

  jobPk: (tenantId: string, jobId: string) => `T#${tenantId}#J#${jobId}`,
  job: (tenantId: string, jobId: string) => ({ pk: keys.jobPk(tenantId, jobId), sk: "A#JOB" }),
  /** A job's pinned inline definition, as jobs written before definitions were kept by content had it. */
  jobDefinition: (tenantId: string, jobId: string) => ({ pk: keys.jobPk(tenantId, jobId), sk: "A#DEF" }),
  /**
   * An inline workflow definition, by the hash of its content (`dh` on the job item): written by the first
   * job of that content and shared by the jobs after it. It never changes, since its key is its content.
   */
  definition: (tenantId: string, hash: string) => ({ pk: `T#${tenantId}#DEF#${hash}`, sk: "A#DEF" }),
  /**
   * What job lists show, in one of the tenant's list partitions (shards, so one tenant's writes do not
   * crowd one partition); rewritten only when a listed field moves. See stores/jobs/summary.ts.
   */
  jobSummary: (tenantId: string, shard: number, sortKey: string) => ({
    pk: keys.jobList(tenantId, shard),
    sk: sortKey,
  }),
  jobList: (tenantId: string, shard: number) => `T#${tenantId}#JL#${shard}`,
  step: (tenantId: string, jobId: string, nodeId: string, itemIndex?: number) => ({
    pk: keys.jobPk(tenantId, jobId),
    // Steps sort between the job (`A#JOB`) and its events (`E#`), so one query reads the job and its steps.
    sk: itemIndex === undefined ? `B#${nodeId}` : `B#${nodeId}#${pad(itemIndex, 6)}`,
  }),
  event: (tenantId: string, jobId: string, seq: number) => ({
    pk: keys.jobPk(tenantId, jobId),
    sk: `E#${pad(seq, 10)}`,
  }),
  eventSk: (seq: number) => `E#${pad(seq, 10)}`,
  jobsByStatusIndex: (tenantId: string, status: string, shard: number) =>
    `T#${tenantId}#JOBS#S#${status}#${shard}`,
  jobsByWorkflowIndex: (tenantId: string, workflowId: string, shard: number) =>
    `T#${tenantId}#JOBS#W#${workflowId}#${shard}`,
  jobSortKey: (createdAt: string, jobId: string) => `${createdAt}#${jobId}`,
  idempotency: (tenantId: string, key: string) => ({ pk: `T#${tenantId}#IDEM#${key}`, sk: "IDEM" }),

  connection: (tenantId: string, connectionId: string) => ({
    pk: `T#${tenantId}#C#${connectionId}`,
    sk: "CONN",
  }),
  jobSubscribers: (tenantId: string, jobId: string) => `T#${tenantId}#SUB#J#${jobId}`,
  tenantSubscribers: (tenantId: string) => `T#${tenantId}#SUB#ALL`,
  /** How many subscriptions the tenant holds, so the fanout skips its lookups while nobody listens. */
  liveSubscriptions: (tenantId: string) => ({ pk: `T#${tenantId}#LIVE`, sk: "LIVE" }),
  subscription: (subscribersPk: string, connectionId: string) => ({
    pk: subscribersPk,
    sk: `C#${connectionId}`,
  }),

  /** A workflow's head: its latest version number, name, and deleted flag. Listed on gsi1 until deleted. */
  workflow: (tenantId: string, workflowId: string) => ({ pk: `T#${tenantId}`, sk: `WF#${workflowId}` }),
  /** Holds a workflow's name (case-insensitively) for it, so two workflows of a tenant never share one. */
  workflowName: (tenantId: string, name: string) => ({
    pk: `T#${tenantId}`,
    sk: `WFNAME#${name.toLowerCase()}`,
  }),
  /** One immutable version of a workflow. Zero-padded so versions sort in order. */
  workflowVersion: (tenantId: string, workflowId: string, version: number) => ({
    pk: `T#${tenantId}`,
    sk: `WF#${workflowId}#V#${pad(version, 6)}`,
  }),
  workflowVersionsPrefix: (workflowId: string) => `WF#${workflowId}#V#`,
  workflowsIndex: (tenantId: string) => `T#${tenantId}#WORKFLOWS`,

  /** Approvals get their own partitions: a busy tenant's inbox must not crowd one partition. */
  approval: (tenantId: string, approvalId: string) => ({
    pk: `T#${tenantId}#AP#${approvalId}`,
    sk: "APPROVAL",
  }),
  approvalsIndex: (tenantId: string) => `T#${tenantId}#APPROVALS`,
  approvalsByStatusIndex: (tenantId: string, status: string) => `T#${tenantId}#APPROVALS#S#${status}`,
  approvalsByJobIndex: (tenantId: string, jobId: string) => `T#${tenantId}#APPROVALS#J#${jobId}`,
  /** Running counts of an agent's review approvals, updated in the same transactions as the approvals. */
  agentApprovalStats: (tenantId: string, agent: string) => ({ pk: `T#${tenantId}`, sk: `AGSTATS#${agent}` }),

  schedule: (tenantId: string, scheduleId: string) => ({ pk: `T#${tenantId}`, sk: `SCH#${scheduleId}` }),
  schedulesIndex: (tenantId: string) => `T#${tenantId}#SCHEDULES`,
  schedulesByWorkflowIndex: (tenantId: string, workflowId: string) =>
    `T#${tenantId}#SCHEDULES#W#${workflowId}`,
} as const;

/** Item kinds by sort-key prefix, as the stream filter and the fanout see them. */
export const SK_PREFIX = { step: "B#", event: "E#", job: "A#JOB" } as const;
