import type { AuthContext, TokenResponse } from "#events/auth";
import { logger } from "../observability.ts";
import {
  findApiKey,
  findUserByEmail,
  getUser,
  rotateRefreshFamily,
  startRefreshFamily,
  touchApiKey,
} from "../stores/identity.ts";
import { dummyPasswordHash, verifyPassword } from "./passwords.ts";
import {
  ACCESS_TOKEN_TTL_SECONDS,
  REFRESH_TOKEN_TTL_SECONDS,
  signAccessToken,
  signRefreshToken,
  verifyAccessToken,
  verifyRefreshToken,
} from "./tokens.ts";

export class AuthenticationError extends Error {
  override name = "AuthenticationError";
}

async function issueTokens(
  user: { id: string; tenantId: string; role: AuthContext["role"]; email: string; platformAdmin: boolean },
  family: { id: string; gen: number },
): Promise<TokenResponse> {
  const [accessToken, refreshToken] = await Promise.all([
    signAccessToken({ sub: user.id, tid: user.tenantId, role: user.role, email: user.email, pa: user.platformAdmin }),
    signRefreshToken({ sub: user.id, tid: user.tenantId, fam: family.id, gen: family.gen }),
  ]);
  return { accessToken, refreshToken, expiresIn: ACCESS_TOKEN_TTL_SECONDS, tokenType: "Bearer" };
}

/** The same error, after the same work, whether the email is unknown or the password wrong. */
export async function login(email: string, password: string): Promise<TokenResponse> {
  const user = await findUserByEmail(email);
  const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (user === undefined || !ok || user.disabled === true) {
    throw new AuthenticationError("Email or password is incorrect");
  }
  const familyId = await startRefreshFamily(user.tenantId, user.id, REFRESH_TOKEN_TTL_SECONDS);
  return issueTokens(user, { id: familyId, gen: 0 });
}

export async function refresh(refreshToken: string): Promise<TokenResponse> {
  let claims: Awaited<ReturnType<typeof verifyRefreshToken>>;
  try {
    claims = await verifyRefreshToken(refreshToken);
  } catch {
    throw new AuthenticationError("Refresh token is invalid or expired");
  }
  const outcome = await rotateRefreshFamily(claims.tid, claims.fam, claims.sub, claims.gen);
  if (outcome === "reused") {
    logger.warn("Refresh token reused; token family revoked", { tenantId: claims.tid, principalId: claims.sub });
  }
  if (outcome !== "rotated") throw new AuthenticationError("Refresh token is invalid or expired");
  const user = await getUser(claims.tid, claims.sub);
  if (user === undefined || user.disabled === true) throw new AuthenticationError("Account no longer exists");
  return issueTokens(user, { id: claims.fam, gen: claims.gen + 1 });
}

/** Resolves a bearer JWT or an API key to the caller. Throws AuthenticationError for anything else. */
export async function authenticate(credential: string): Promise<AuthContext> {
  if (credential.startsWith("sb_")) {
    const key = await findApiKey(credential);
    if (key === undefined) throw new AuthenticationError("API key is invalid");
    if (key.revokedAt !== undefined) throw new AuthenticationError("API key was revoked");
    if (key.expiresAt !== undefined && Date.parse(key.expiresAt) <= Date.now()) {
      throw new AuthenticationError("API key has expired");
    }
    await touchApiKey(key).catch((error) => logger.warn("Could not record lastUsedAt", { error }));
    return {
      tenantId: key.tenantId,
      principalId: key.id,
      principalType: "apiKey",
      role: key.role,
      platformAdmin: "false",
    };
  }
  let claims: Awaited<ReturnType<typeof verifyAccessToken>>;
  try {
    claims = await verifyAccessToken(credential);
  } catch {
    throw new AuthenticationError("Access token is invalid or expired");
  }
  // A deleted or disabled user's unexpired token must stop working.
  const user = await getUser(claims.tid, claims.sub);
  if (user === undefined || user.disabled === true) throw new AuthenticationError("Account no longer exists");
  return {
    tenantId: user.tenantId,
    principalId: user.id,
    principalType: "user",
    role: user.role,
    email: user.email,
    platformAdmin: user.platformAdmin ? "true" : "false",
  };
}
