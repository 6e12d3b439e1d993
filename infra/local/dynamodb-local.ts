import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import type { Logger } from "./log.ts";
import { freePort } from "./ports.ts";

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** Resolves once DynamoDB Local answers `ListTables`. */
  ready: Promise<void>;
  /** True from a death of the process until the restarted one answers. */
  readonly restarting: boolean;
  /** The Java process's id, of the current process after a restart. */
  pid(): number | undefined;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
const JAVA_MISSING =
  "DynamoDB Local needs Java, and `java` was not found on PATH. Install a JRE, e.g. `apt-get install -y openjdk-17-jre-headless` (Debian/Ubuntu) or `brew install openjdk@17` (macOS).";

function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("amplify-dynamodb-simulator/package.json")), "emulator");
}

function commandOf(pid: number): Promise<string | undefined> {
  return new Promise((resolvePromise) => {
    execFile("ps", ["-o", "command=", "-p", String(pid)], (error, stdout) =>
      resolvePromise(error ? undefined : stdout.trim()),
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A twin killed with SIGKILL leaves its Java child running, holding the SQLite file. The pid file lets the
 * next start stop that orphan, and only it: the command line must name the jar and this data directory.
 */
async function stopOrphan(pidFile: string, dbPath: string, log: Logger): Promise<void> {
  const pid = Number.parseInt(await readFile(pidFile, "utf8").catch(() => ""), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const command = await commandOf(pid);
  if (command === undefined || !command.includes("DynamoDBLocal.jar") || !command.includes(dbPath)) return;
  log.warn(`stopping DynamoDB Local left running by an earlier twin (pid ${pid})`);
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 5_000 && isAlive(pid); waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}

async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolvePromise(true);
    });
  });
}

/** Backoff between restarts of a DynamoDB Local that died: 1 s, doubling, at most 30 s. */
const RESTART_BASE_MS = 1_000;
const RESTART_MAX_MS = 30_000;
/** Up this long after a restart, and the next death starts the backoff from the beginning again. */
const STABLE_MS = 60_000;

interface Launched {
  child: ChildProcess;
  /** Settles with why the process ended, whenever it does. */
  exited: Promise<Error>;
  output(): string;
}

/**
 * Supervises DynamoDB Local: when the Java process dies after it was ready, the twin says so once, then
 * starts it again on the same port with the same `-dbPath` (so the data is kept), with backoff, and says
 * when it is back. `restarting` is true in between, so other components can keep quiet about refused
 * connections instead of logging each one.
 */
export async function startDynamoDbLocal(options: {
  dataDir: string;
  preferredPort?: number;
  log: Logger;
  /** One database for every access key (the default), or one per access key (to share the process). */
  sharedDb?: boolean;
  /**
   * Keep the tables in memory (`-inMemory`) instead of in SQLite files under the data directory. The API
   * behaves the same; nothing survives the process, so a restart after a death starts empty. The test
   * suites and the bench use it: a file-backed write costs DynamoDB Local a third more CPU.
   */
  inMemory?: boolean;
}): Promise<DynamoDbLocal> {
  const { log } = options;
  const dbPath = resolve(options.dataDir, "dynamodb");
  await mkdir(dbPath, { recursive: true });
  const pidFile = join(dbPath, "dynamodb-local.pid");
  await stopOrphan(pidFile, dbPath, log);

  const port = await freePort(options.preferredPort);
  const emulator = emulatorDir();
  const endpoint = `http://127.0.0.1:${port}`;

  const launch = async (): Promise<Launched> => {
    const child = spawn(
      "java",
      [
        // C1 only and the serial collector: on a two-core laptop these halve the JVM's start time.
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        `-Djava.library.path=${join(emulator, "DynamoDBLocal_lib")}`,
        // Names the data directory on the command line even in memory, so an orphan is still recognised.
        `-Dswitchboard.data=${dbPath}`,
        "-jar",
        join(emulator, "DynamoDBLocal.jar"),
        "-port",
        String(port),
        ...(options.inMemory ? ["-inMemory"] : ["-dbPath", dbPath]),
        // One database for every access key and region, so a client with other credentials sees the same tables.
        ...(options.sharedDb === false ? [] : ["-sharedDb"]),
        // DynamoDB Local phones home by default; a laptop twin must work offline and stay quiet.
        "-disableTelemetry",
      ],
      { cwd: emulator, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const exited = new Promise<Error>((resolvePromise) => {
      child.once("error", (error: NodeJS.ErrnoException) => {
        resolvePromise(error.code === "ENOENT" ? new Error(JAVA_MISSING) : error);
      });
      child.once("exit", (code, signal) => {
        resolvePromise(new Error(`DynamoDB Local exited (${signal ?? `code ${code}`}):\n${output}`));
      });
    });
    if (child.pid !== undefined) await writeFile(pidFile, String(child.pid));
    return { child, exited, output: () => output };
  };

  const waitReady = async (launched: Launched): Promise<void> => {
    const client = new DynamoDBClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "twin", secretAccessKey: "twin" },
      maxAttempts: 1,
    });
    const started = Date.now();
    let failure: Error | undefined;
    void launched.exited.then((error) => {
      failure = error;
    });
    try {
      while (Date.now() - started < READY_TIMEOUT_MS) {
        if (failure) throw failure;
        try {
          await client.send(new ListTablesCommand({ Limit: 1 }));
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw (
        failure ??
        new Error(`DynamoDB Local did not answer within ${READY_TIMEOUT_MS / 1000}s:\n${launched.output()}`)
      );
    } finally {
      client.destroy();
    }
  };

  let current = await launch();
  let stopping = false;
  let restarting = false;
  let restarts = 0;
  let upSince = Date.now();
  let restartTimer: NodeJS.Timeout | undefined;
  const killOnExit = () => current.child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const supervise = (launched: Launched) => {
    void launched.exited.then((reason) => {
      if (stopping || launched !== current) return;
      if (Date.now() - upSince > STABLE_MS) restarts = 0;
      const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** restarts);
      restarts++;
      restarting = true;
      const why = reason.message.split("\n")[0];
      log.error(
        `DynamoDB Local (pid ${launched.child.pid}) died: ${why}. Requests that need the table fail until it is back; restarting it in ${delay / 1000}s with the same data (restart ${restarts}).`,
      );
      const outageStarted = Date.now();
      const attempt = () => {
        restartTimer = undefined;
        if (stopping) return;
        void (async () => {
          try {
            current = await launch();
            supervise(current);
            await waitReady(current);
            restarting = false;
            upSince = Date.now();
            log.info(
              `DynamoDB Local is back (pid ${current.child.pid}, down ${Date.now() - outageStarted} ms)`,
            );
          } catch (error) {
            if (stopping) return;
            // A launch that dies before it is ready is picked up by its own supervision; one that hangs is killed.
            if (current.child.exitCode === null && current.child.signalCode === null)
              current.child.kill("SIGKILL");
            log.error(`DynamoDB Local did not come back: ${(error as Error).message.split("\n")[0]}`);
          }
        })();
      };
      restartTimer = setTimeout(attempt, delay);
    });
  };

  const ready = waitReady(current).then(
    () => {
      upSince = Date.now();
      supervise(current);
    },
    (error: Error) => {
      throw new Error(
        error.message.replace("DynamoDB Local exited", "DynamoDB Local exited before it was ready"),
      );
    },
  );
  // The twin awaits `ready` later; until then a failure must not count as unhandled.
  ready.catch(() => undefined);

  return {
    endpoint,
    port,
    ready,
    get restarting() {
      return restarting;
    },
    pid: () => current.child.pid,
    async stop() {
      stopping = true;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      process.removeListener("exit", killOnExit);
      const { child } = current;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        if (!(await waitForExit(child, 5_000))) {
          child.kill("SIGKILL");
          await waitForExit(child, 2_000);
        }
      }
      await rm(pidFile, { force: true });
      if (child.pid !== undefined) log.info("DynamoDB Local stopped");
    },
  };
}

/** A DynamoDB Local that someone else started and looks after: used as it is, never stopped from here. */
export function runningDynamoDbLocal(endpoint: string): DynamoDbLocal {
  return {
    endpoint,
    port: Number(new URL(endpoint).port),
    ready: Promise.resolve(),
    restarting: false,
    pid: () => undefined,
    stop: async () => undefined,
  };
}
