import { AuthenticationError, login, refresh } from "../../auth/authenticate.ts";
import { AppError } from "../../errors.ts";
import { implementRoutes } from "../api.ts";

async function asUnauthorized<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AuthenticationError) throw new AppError(401, "UNAUTHORIZED", error.message);
    throw error;
  }
}

export const authRoutes = implementRoutes({
  login: {
    handle: ({ body, sourceIp }) => asUnauthorized(() => login(body.email, body.password, { sourceIp })),
  },
  refresh: {
    handle: ({ body }) => asUnauthorized(() => refresh(body.refreshToken)),
  },
  me: {
    handle: async ({ principal }) => principal,
  },
});
