import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

/**
 * `#events/*` imports resolve through the repository's package.json "imports" map, which Vite honours
 * like Node does, so the dashboard shares the exact zod schemas the API validates with.
 *
 * `SWITCHBOARD_URL` (e.g. http://localhost:3000) points `vite dev` at a running platform.
 */
const target = process.env.SWITCHBOARD_URL;

export default defineConfig({
  root,
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: target
    ? {
        proxy: {
          "/v1": target,
          "/config.json": target,
          "/ws": { target: target.replace(/^http/, "ws"), ws: true },
        },
      }
    : {},
});
