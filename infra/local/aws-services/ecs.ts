import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { Logger } from "../log.ts";
import { AwsServiceError, type JsonService, requireString } from "./protocol.ts";

const ACCOUNT = "000000000000";
/** What the twin sets for the worker, standing in for the stack's cluster, task definition and network. */
export const LOCAL_ECS = {
  cluster: "switchboard-local",
  taskDefinition: `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/switchboard-step:1`,
  containerName: "step",
  subnets: "subnet-local",
  securityGroups: "sg-local",
} as const;
/** Stopped tasks stay describable for an hour, as in ECS. */
const KEEP_STOPPED_MS = 3600_000;

interface LocalTask {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  startedBy?: string;
  createdAt: Date;
  startedAt?: Date;
  stoppedAt?: Date;
  lastStatus: "PROVISIONING" | "RUNNING" | "STOPPED";
  desiredStatus: "RUNNING" | "STOPPED";
  stopCode?: "EssentialContainerExited" | "UserInitiated";
  stoppedReason?: string;
  exitCode?: number;
  process?: ChildProcess;
  containerName: string;
}

export interface EcsOptions {
  region: string;
  /** The task definition's command: what the container image would run. */
  command: { executable: string; args: string[]; cwd: string };
  log: Logger;
}

function clusterArn(region: string, cluster: string): string {
  return cluster.startsWith("arn:") ? cluster : `arn:aws:ecs:${region}:${ACCOUNT}:cluster/${cluster}`;
}

/**
 * ECS `RunTask`, `DescribeTasks` and `StopTask`. A task is a child process running the task entry point with
 * the container overrides' environment on top of the twin's, as the container would get them.
 */
export function createEcs(options: EcsOptions): JsonService & { stopAll(): Promise<void> } {
  const tasks = new Map<string, LocalTask>();

  const describe = (task: LocalTask) => ({
    taskArn: task.taskArn,
    clusterArn: task.clusterArn,
    taskDefinitionArn: task.taskDefinitionArn,
    lastStatus: task.lastStatus,
    desiredStatus: task.desiredStatus,
    launchType: "FARGATE",
    createdAt: task.createdAt.getTime() / 1000,
    ...(task.startedBy === undefined ? {} : { startedBy: task.startedBy }),
    ...(task.startedAt === undefined ? {} : { startedAt: task.startedAt.getTime() / 1000 }),
    ...(task.stoppedAt === undefined ? {} : { stoppedAt: task.stoppedAt.getTime() / 1000 }),
    ...(task.stopCode === undefined ? {} : { stopCode: task.stopCode }),
    ...(task.stoppedReason === undefined ? {} : { stoppedReason: task.stoppedReason }),
    containers: [
      {
        name: task.containerName,
        lastStatus: task.lastStatus,
        ...(task.exitCode === undefined ? {} : { exitCode: task.exitCode }),
      },
    ],
  });

  const forget = () => {
    const now = Date.now();
    for (const [arn, task] of tasks) {
      if (task.stoppedAt !== undefined && now - task.stoppedAt.getTime() > KEEP_STOPPED_MS) tasks.delete(arn);
    }
  };

  const find = (cluster: string, id: string) => {
    const task = tasks.get(id) ?? [...tasks.values()].find((t) => t.taskArn.endsWith(`/${id}`));
    return task !== undefined && task.clusterArn === clusterArn(options.region, cluster) ? task : undefined;
  };

  return {
    name: "ECS",
    targetPrefix: "AmazonEC2ContainerServiceV20141113",
    contentType: "application/x-amz-json-1.1",
    operations: {
      RunTask(input) {
        forget();
        const cluster = typeof input.cluster === "string" ? input.cluster : "default";
        const taskDefinition = requireString(input, "taskDefinition");
        if (input.launchType !== undefined && input.launchType !== "FARGATE") {
          throw new AwsServiceError("InvalidParameterException", "The local twin runs FARGATE tasks only.");
        }
        const overrides = (input.overrides ?? {}) as {
          containerOverrides?: { name?: string; environment?: { name: string; value: string }[] }[];
        };
        const container = overrides.containerOverrides?.[0];
        const environment = Object.fromEntries(
          (container?.environment ?? []).map((variable) => [variable.name, variable.value]),
        );
        const id = randomUUID().replace(/-/g, "");
        const arn = clusterArn(options.region, cluster);
        const task: LocalTask = {
          taskArn: `arn:aws:ecs:${options.region}:${ACCOUNT}:task/${arn.split("/").pop()}/${id}`,
          clusterArn: arn,
          taskDefinitionArn: taskDefinition,
          createdAt: new Date(),
          lastStatus: "PROVISIONING",
          desiredStatus: "RUNNING",
          containerName: container?.name ?? LOCAL_ECS.containerName,
          ...(typeof input.startedBy === "string" ? { startedBy: input.startedBy } : {}),
        };
        const child = spawn(options.command.executable, options.command.args, {
          cwd: options.command.cwd,
          env: { ...process.env, ...environment, ECS_CONTAINER_METADATA_URI_V4: "" },
          stdio: ["ignore", "inherit", "inherit"],
        });
        task.process = child;
        child.once("spawn", () => {
          task.lastStatus = "RUNNING";
          task.startedAt = new Date();
        });
        child.once("exit", (code, signal) => {
          task.lastStatus = "STOPPED";
          task.desiredStatus = "STOPPED";
          task.stoppedAt = new Date();
          task.exitCode = code ?? (signal === null ? 0 : 137);
          task.stopCode ??= "EssentialContainerExited";
          task.stoppedReason ??= "Essential container in task exited";
          task.process = undefined;
          options.log.info(`task ${id.slice(0, 8)} stopped (exit ${task.exitCode})`);
        });
        child.once("error", (error) =>
          options.log.error(`task ${id.slice(0, 8)} could not start: ${error.message}`),
        );
        tasks.set(task.taskArn, task);
        options.log.info(`task ${id.slice(0, 8)} started`);
        return { tasks: [describe(task)], failures: [] };
      },
      DescribeTasks(input) {
        const cluster = typeof input.cluster === "string" ? input.cluster : "default";
        const ids = Array.isArray(input.tasks) ? (input.tasks as string[]) : [];
        if (ids.length === 0)
          throw new AwsServiceError("InvalidParameterException", "Tasks cannot be empty.");
        const found = [];
        const failures = [];
        for (const id of ids) {
          const task = find(cluster, id);
          if (task === undefined) failures.push({ arn: id, reason: "MISSING" });
          else found.push(describe(task));
        }
        return { tasks: found, failures };
      },
      StopTask(input) {
        const cluster = typeof input.cluster === "string" ? input.cluster : "default";
        const task = find(cluster, requireString(input, "task"));
        if (task === undefined)
          throw new AwsServiceError("InvalidParameterException", "The referenced task was not found.");
        if (task.lastStatus !== "STOPPED") {
          task.desiredStatus = "STOPPED";
          task.stopCode = "UserInitiated";
          task.stoppedReason = typeof input.reason === "string" ? input.reason : "Task stopped by user";
          // ECS sends SIGTERM, then SIGKILL after the stop timeout (30 s by default).
          task.process?.kill("SIGTERM");
          const child = task.process;
          setTimeout(() => child?.kill("SIGKILL"), 30_000).unref();
        }
        return { task: describe(task) };
      },
    },
    async stopAll() {
      await Promise.all(
        [...tasks.values()]
          .filter((task) => task.process !== undefined)
          .map(
            (task) =>
              new Promise<void>((resolve) => {
                task.process?.once("exit", () => resolve());
                task.process?.kill("SIGTERM");
              }),
          ),
      );
    },
  };
}
