import { z } from "zod";

export const Role = z.enum(["admin", "user", "viewer"]);
export type Role = z.infer<typeof Role>;

export const LoginRequest = z
  .object({ email: z.string().email().max(254), password: z.string().min(1).max(1024) })
  .strict();
export const RefreshRequest = z.object({ refreshToken: z.string().min(1).max(4096) }).strict();
export const TokenResponse = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number().int(),
  tokenType: z.literal("Bearer"),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

/** What the authorizer passes to every protected route (as strings, as API Gateway requires). */
export const AuthContext = z.object({
  tenantId: z.string(),
  principalId: z.string(),
  principalType: z.enum(["user", "apiKey"]),
  role: Role,
  email: z.string().optional(),
  platformAdmin: z.enum(["true", "false"]).default("false"),
});
export type AuthContext = z.infer<typeof AuthContext>;

export const Me = z.object({
  tenantId: z.string(),
  principalId: z.string(),
  principalType: z.enum(["user", "apiKey"]),
  role: Role,
  email: z.string().optional(),
  platformAdmin: z.boolean(),
});
