import { createSecretKey, type KeyObject } from "node:crypto";
import { getSecret } from "@aws-lambda-powertools/parameters/secrets";
import jwt from "jsonwebtoken";
import type { Role } from "#events/auth";
import { ENV, optionalEnv, requireEnv } from "../config.ts";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export interface AccessClaims {
  sub: string;
  tid: string;
  role: Role;
  email: string;
  pa?: boolean;
  /** Issued at, epoch seconds (set when verifying). */
  iat?: number;
}

export interface RefreshClaims {
  sub: string;
  tid: string;
  /** Token family: every rotation keeps it, and reuse of a rotated token revokes the family. */
  fam: string;
  /** Generation within the family. */
  gen: number;
  /** When the family (the sign-in) started, epoch seconds: a password change ends older families. */
  fst: number;
}

const issuer = () => optionalEnv(ENV.jwtIssuer, "switchboard");
const audience = () => optionalEnv(ENV.jwtAudience, "switchboard");

/** Cached for five minutes by Powertools Parameters, so a rotated secret is picked up without a redeploy. */
export async function signingSecret(): Promise<string> {
  const secret = await getSecret<string>(requireEnv(ENV.jwtSecretId), { maxAge: 300 });
  if (typeof secret !== "string" || secret.length < 32) {
    throw new Error("The JWT signing secret is missing or shorter than 32 characters");
  }
  return secret;
}

let signingKeyOf: { secret: string; key: KeyObject } | undefined;

/**
 * The secret as a key object, made once per secret: given a string, jsonwebtoken first tries it as a public
 * key and builds the secret key from the failure, on every call.
 */
async function signingKey(): Promise<KeyObject> {
  const secret = await signingSecret();
  if (signingKeyOf?.secret !== secret) signingKeyOf = { secret, key: createSecretKey(Buffer.from(secret)) };
  return signingKeyOf.key;
}

export async function signAccessToken(claims: AccessClaims): Promise<string> {
  return jwt.sign(
    { tid: claims.tid, role: claims.role, email: claims.email, pa: claims.pa === true, typ: "access" },
    await signingKey(),
    {
      algorithm: "HS256",
      subject: claims.sub,
      issuer: issuer(),
      audience: audience(),
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    },
  );
}

export async function signRefreshToken(claims: RefreshClaims): Promise<string> {
  return jwt.sign(
    { tid: claims.tid, fam: claims.fam, gen: claims.gen, fst: claims.fst, typ: "refresh" },
    await signingKey(),
    {
      algorithm: "HS256",
      subject: claims.sub,
      issuer: issuer(),
      audience: audience(),
      expiresIn: REFRESH_TOKEN_TTL_SECONDS,
    },
  );
}

function verify(token: string, secret: KeyObject, type: "access" | "refresh"): jwt.JwtPayload {
  const payload = jwt.verify(token, secret, {
    algorithms: ["HS256"],
    issuer: issuer(),
    audience: audience(),
  });
  if (typeof payload === "string" || payload.typ !== type || typeof payload.sub !== "string") {
    throw new jwt.JsonWebTokenError(`not an ${type} token`);
  }
  return payload;
}

/** Throws on any defect: bad signature, other algorithm, expired, wrong issuer, audience or type. */
export async function verifyAccessToken(token: string): Promise<AccessClaims> {
  const payload = verify(token, await signingKey(), "access");
  return {
    sub: payload.sub as string,
    tid: String(payload.tid),
    role: payload.role as Role,
    email: String(payload.email ?? ""),
    pa: payload.pa === true,
    iat: typeof payload.iat === "number" ? payload.iat : 0,
  };
}

export async function verifyRefreshToken(token: string): Promise<RefreshClaims> {
  const payload = verify(token, await signingKey(), "refresh");
  return {
    sub: payload.sub as string,
    tid: String(payload.tid),
    fam: String(payload.fam),
    gen: Number(payload.gen),
    fst: typeof payload.fst === "number" ? payload.fst : 0,
  };
}
