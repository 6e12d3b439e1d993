import { z } from "zod";

/**
 * Any `local@domain` address, including hosts without a dot such as the local default `admin@localhost`,
 * which zod's stricter `email()` refuses.
 */
export const EmailAddress = z
  .string()
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+$/, "must be an email address");

export const Role = z.enum(["admin", "user", "viewer"]);
export type Role = z.infer<typeof Role>;

export const LoginRequest = z.object({ email: EmailAddress, password: z.string().min(1).max(1024) }).strict();
export const RefreshRequest = z.object({ refreshToken: z.string().min(1).max(4096) }).strict();
export const TokenResponse = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    expiresIn: z.number().int(),
    tokenType: z.literal("Bearer"),
  })
  .meta({ id: "TokenResponse" });
export type TokenResponse = z.infer<typeof TokenResponse>;

/** What the authorizer passes to every protected route (as strings, as API Gateway requires). */
export const AuthContext = z.object({
  tenantId: z.string(),
  principalId: z.string(),
  principalType: z.enum(["user", "apiKey"]),
  role: Role,
  email: z.string().optional(),
  platformAdmin: z.enum(["true", "false"]).default("false"),
  /** For an API key: the person it acts for, whose current role caps the key's. */
  ownerId: z.string().optional(),
});
export type AuthContext = z.infer<typeof AuthContext>;

export const Me = z
  .object({
    tenantId: z.string(),
    principalId: z.string(),
    principalType: z.enum(["user", "apiKey"]),
    role: Role,
    email: z.string().optional(),
    platformAdmin: z.boolean(),
  })
  .meta({ id: "Me" });

// Tenants, users, API keys and the audit log.

/**
 * Shortest password a person may set. The server checks it itself (shared/auth/passwords.ts), so that the
 * 400 names the rule in its message; clients import it to say so before sending.
 */
export const MIN_PASSWORD_LENGTH = 12;
const Password = z.string().min(1).max(1024);
const Email = EmailAddress;
const Timestamp = z.iso.datetime({ offset: true });

export const CreateTenantRequest = z
  .object({ name: z.string().trim().min(1).max(100), adminEmail: Email, adminPassword: Password })
  .strict();
export type CreateTenantRequest = z.infer<typeof CreateTenantRequest>;

export const User = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    email: z.string(),
    role: Role,
    disabled: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string().optional(),
  })
  .meta({ id: "User" });
export type User = z.infer<typeof User>;

export const Tenant = z.object({ id: z.string(), name: z.string(), createdAt: z.string() });
export const CreatedTenant = Tenant.extend({ admin: User });

export const CreateUserRequest = z.object({ email: Email, password: Password, role: Role }).strict();
export type CreateUserRequest = z.infer<typeof CreateUserRequest>;

export const UpdateUserRequest = z
  .object({ role: Role.optional(), password: Password.optional(), disabled: z.boolean().optional() })
  .strict()
  .refine((value) => Object.keys(value).length > 0, "Give at least one of role, password, disabled");
export type UpdateUserRequest = z.infer<typeof UpdateUserRequest>;

export const PageQuery = z
  .object({ cursor: z.string().optional(), limit: z.coerce.number().int().min(1).max(100).default(50) })
  .strict();
export type PageQuery = z.infer<typeof PageQuery>;

export const CreateApiKeyRequest = z
  .object({ name: z.string().trim().min(1).max(100), role: Role, expiresAt: Timestamp.optional() })
  .strict();
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

/** An API key as listed: never the secret, never its hash. */
export const ApiKey = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    role: Role,
    createdBy: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().optional(),
    revokedAt: z.string().optional(),
    lastUsedAt: z.string().optional(),
  })
  .meta({ id: "ApiKey" });
export type ApiKey = z.infer<typeof ApiKey>;

/** The create response: the only time `key` (`sb_<id>_<secret>`) is ever shown. */
export const CreatedApiKey = ApiKey.extend({ key: z.string() }).meta({ id: "CreatedApiKey" });
export type CreatedApiKey = z.infer<typeof CreatedApiKey>;

export const AuditEntry = z
  .object({
    /** Opaque and stable: the entry's sort key. */
    id: z.string(),
    tenantId: z.string(),
    actorId: z.string(),
    actorType: z.enum(["user", "apiKey", "anonymous"]),
    action: z.string(),
    resource: z.string(),
    requestId: z.string(),
    sourceIp: z.string(),
    status: z.number().int(),
    at: z.string(),
  })
  .meta({ id: "AuditEntry" });
export type AuditEntry = z.infer<typeof AuditEntry>;

export const ListAuditQuery = PageQuery.extend({
  actorId: z.string().min(1).max(200).optional(),
  /** Entries whose resource starts with this, e.g. `/v1/users`. */
  resource: z.string().min(1).max(500).optional(),
  from: Timestamp.optional(),
  to: Timestamp.optional(),
})
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), {
    message: "from must not be after to",
    path: ["from"],
  });
export type ListAuditQuery = z.infer<typeof ListAuditQuery>;

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), cursor: z.string().optional() });
