/**
 * `npm start`: the whole platform on this machine. PORT (default 3000) and DATA_DIR (default `.data`) change
 * where it listens and what it keeps; ADMIN_EMAIL and ADMIN_PASSWORD set the first admin.
 */
import { describeError } from "./log.ts";
import { startTwin, type Twin } from "./twin.ts";

function portFrom(value: string | undefined): number {
  if (value === undefined || value === "") return 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, got "${value}"`);
  }
  return port;
}

let twin: Twin | undefined;
let stopping = false;

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping || !twin) {
    // A second signal, or one during start: exit now; the exit hook still stops DynamoDB Local.
    process.exit(130);
  }
  stopping = true;
  process.stdout.write(`\n${signal}: stopping…\n`);
  await twin.stop();
  process.exit(0);
}

process.on("SIGINT", (signal) => void shutdown(signal));
process.on("SIGTERM", (signal) => void shutdown(signal));

// In Lambda a stray rejection or exception ends one execution environment; here it must not end the platform.
process.on("unhandledRejection", (reason) => {
  process.stderr.write(
    `[lambda] ERROR unhandled rejection in a function (Lambda would restart its environment)\n${describeError(reason)}\n`,
  );
});
process.on("uncaughtException", (error) => {
  process.stderr.write(
    `[lambda] ERROR uncaught exception in a function (Lambda would restart its environment)\n${describeError(error)}\n`,
  );
});

async function main(): Promise<void> {
  twin = await startTwin({
    port: portFrom(process.env.PORT),
    dataDir: process.env.DATA_DIR || ".data",
    adminEmail: process.env.ADMIN_EMAIL || undefined,
    adminPassword: process.env.ADMIN_PASSWORD || undefined,
  });

  const lines = [
    "",
    `Switchboard is running (started in ${twin.startupMs} ms)`,
    `  Dashboard  ${twin.url}/`,
    `  REST API   ${twin.url}/v1`,
    `  WebSocket  ${twin.wsUrl}`,
    `  Data       ${twin.dataDir}`,
  ];
  if (twin.admin) {
    lines.push(`  Admin      ${twin.admin.email}`);
    if (twin.admin.password) {
      lines.push(
        `  Password   ${twin.admin.password}   (shown once; kept in ${twin.dataDir}/admin-password)`,
      );
    }
  }
  lines.push("", "Press Ctrl+C to stop.", "");
  process.stdout.write(lines.join("\n"));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `\nThe local twin failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
