import { LoginRequest, Me, RefreshRequest, TokenResponse } from "#events/auth";
import { AuthenticationError, login, refresh } from "../../auth/authenticate.ts";
import { AppError } from "../../errors.ts";
import { defineRoute, type RouteTable } from "../api.ts";

async function asUnauthorized<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AuthenticationError) throw new AppError(401, "UNAUTHORIZED", error.message);
    throw error;
  }
}

export const authRoutes: RouteTable = {
  login: defineRoute({
    summary: "Sign in with email and password",
    body: LoginRequest,
    response: TokenResponse,
    handle: ({ body, sourceIp }) => asUnauthorized(() => login(body.email, body.password, { sourceIp })),
  }),
  refresh: defineRoute({
    summary: "Exchange a refresh token for new tokens (the old one stops working)",
    body: RefreshRequest,
    response: TokenResponse,
    handle: ({ body }) => asUnauthorized(() => refresh(body.refreshToken)),
  }),
  me: defineRoute({
    summary: "The caller's identity",
    response: Me,
    handle: async ({ principal }) => principal,
  }),
};
