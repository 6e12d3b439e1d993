import type { AuthContext, TokenResponse } from "#events/auth";
import { epochSeconds } from "../db.ts";
import { tooManyRequests } from "../errors.ts";
import { logger } from "../observability.ts";
import { LOGIN_RULES, resetSlots, takeSlot } from "../rate-limit.ts";
import { ownerOf, ROLE_RANK } from "../stores/api-keys.ts";
import {
  findApiKeyAndOwner,
  findUserByEmail,
  getUser,
  rotateRefreshFamily,
  startRefreshFamily,
  touchApiKey,
  type UserItem,
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
  family: { id: string; gen: number; startedAt: number },
): Promise<TokenResponse> {
  const [accessToken, refreshToken] = await Promise.all([
    signAccessToken({
      sub: user.id,
      tid: user.tenantId,
      role: user.role,
      email: user.email,
      pa: user.platformAdmin,
    }),
    signRefreshToken({
      sub: user.id,
      tid: user.tenantId,
      fam: family.id,
      gen: family.gen,
      fst: family.startedAt,
    }),
  ]);
  return { accessToken, refreshToken, expiresIn: ACCESS_TOKEN_TTL_SECONDS, tokenType: "Bearer" };
}

/** Whether a token issued at `issuedAt` (epoch seconds) predates the user's last password change. */
function sessionRevoked(user: UserItem, issuedAt: number): boolean {
  if (user.sessionsRevokedAt === undefined) return false;
  return issuedAt < Math.floor(Date.parse(user.sessionsRevokedAt) / 1000);
}

function refused(retryAfter: number): never {
  // Says nothing about whether the account exists: the counters are kept for any email.
  throw tooManyRequests(`Too many failed sign-ins; try again in ${retryAfter} seconds`, retryAfter);
}

/**
 * Every attempt takes a slot per source IP and per email before the password is checked, so parallel
 * guesses cannot overtake the counters; a successful sign-in gives its slots back. The same error, after
 * the same work, whether the email is unknown or the password wrong.
 */
export async function login(
  email: string,
  password: string,
  client: { sourceIp?: string } = {},
): Promise<TokenResponse> {
  const ipSlot =
    client.sourceIp === undefined ? undefined : await takeSlot(LOGIN_RULES.perIp, client.sourceIp);
  if (ipSlot !== undefined && !ipSlot.allowed) refused(ipSlot.retryAfterSeconds);
  const emailSlot = await takeSlot(LOGIN_RULES.perEmail, email);
  if (!emailSlot.allowed) {
    if (ipSlot?.allowed) await ipSlot.release();
    refused(emailSlot.retryAfterSeconds);
  }
  const user = await findUserByEmail(email);
  const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (user === undefined || !ok || user.disabled === true) {
    throw new AuthenticationError("Email or password is incorrect");
  }
  await Promise.all([
    ipSlot?.allowed ? ipSlot.release() : undefined,
    resetSlots(LOGIN_RULES.perEmail, email),
  ]);
  const startedAt = epochSeconds();
  const familyId = await startRefreshFamily(user.tenantId, user.id, REFRESH_TOKEN_TTL_SECONDS);
  return issueTokens(user, { id: familyId, gen: 0, startedAt });
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
    logger.warn("Refresh token reused; token family revoked", {
      tenantId: claims.tid,
      principalId: claims.sub,
    });
  }
  if (outcome !== "rotated") throw new AuthenticationError("Refresh token is invalid or expired");
  const user = await getUser(claims.tid, claims.sub);
  if (user === undefined || user.disabled === true) throw new AuthenticationError("Account no longer exists");
  if (sessionRevoked(user, claims.fst)) throw new AuthenticationError("Session ended by a password change");
  return issueTokens(user, { id: claims.fam, gen: claims.gen + 1, startedAt: claims.fst });
}

/** Resolves a bearer JWT or an API key to the caller. Throws AuthenticationError for anything else. */
export async function authenticate(credential: string): Promise<AuthContext> {
  if (credential.startsWith("sb_")) {
    const found = await findApiKeyAndOwner(credential);
    if (found === undefined) throw new AuthenticationError("API key is invalid");
    const { key } = found;
    if (key.revokedAt !== undefined) throw new AuthenticationError("API key was revoked");
    if (key.expiresAt !== undefined && Date.parse(key.expiresAt) <= Date.now()) {
      throw new AuthenticationError("API key has expired");
    }
    // A key never outlives or outranks its person: the owner is read on every use (one GetItem, alongside
    // the key's own), so a deletion, a disabling or a demotion holds at once for every key in the chain the
    // person started. Keys minted before owners were recorded resolve theirs through their creators.
    let owner = found.owner;
    if (found.ownerId === undefined) {
      const ownerId = await ownerOf(key);
      owner = ownerId === undefined ? undefined : await getUser(key.tenantId, ownerId);
    }
    if (owner === undefined || owner.disabled === true) {
      throw new AuthenticationError("API key's owner no longer has access");
    }
    await touchApiKey(key).catch((error) => logger.warn("Could not record lastUsedAt", { error }));
    return {
      tenantId: key.tenantId,
      principalId: key.id,
      principalType: "apiKey",
      role: ROLE_RANK[owner.role] < ROLE_RANK[key.role] ? owner.role : key.role,
      platformAdmin: "false",
      ownerId: owner.id,
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
  if (sessionRevoked(user, claims.iat ?? 0))
    throw new AuthenticationError("Session ended by a password change");
  return {
    tenantId: user.tenantId,
    principalId: user.id,
    principalType: "user",
    role: user.role,
    email: user.email,
    platformAdmin: user.platformAdmin ? "true" : "false",
  };
}
