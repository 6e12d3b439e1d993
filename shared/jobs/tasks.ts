import { ECSClient, RunTaskCommand, StopTaskCommand } from "@aws-sdk/client-ecs";
import type { StepMessage } from "#events/steps";
import { ENV, requireEnv } from "../config.ts";
import { logger } from "../observability.ts";
import { withoutRequestLog } from "../sdk.ts";

let ecs: ECSClient | undefined;
const client = () => {
  ecs ??= withoutRequestLog(new ECSClient({}));
  return ecs;
};

/** The variable that carries the step to the task; the task entry reads nothing else to know its work. */
export const STEP_MESSAGE_ENV = "STEP_MESSAGE";

const list = (name: string) =>
  requireEnv(name)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** Starts the Fargate task that runs one step attempt. Returns the task's ARN. */
export async function startStepTask(message: StepMessage): Promise<string> {
  const result = await client().send(
    new RunTaskCommand({
      cluster: requireEnv(ENV.ecsCluster),
      taskDefinition: requireEnv(ENV.taskDefinition),
      launchType: "FARGATE",
      count: 1,
      startedBy: message.jobId.slice(0, 36),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: list(ENV.taskSubnets),
          securityGroups: list(ENV.taskSecurityGroups),
          assignPublicIp: requireEnv(ENV.taskAssignPublicIp) === "ENABLED" ? "ENABLED" : "DISABLED",
        },
      },
      overrides: {
        containerOverrides: [
          {
            name: requireEnv(ENV.taskContainerName),
            // Without the job item it may carry: overrides are capped at 8 KB, and the task reads the job.
            environment: [{ name: STEP_MESSAGE_ENV, value: JSON.stringify({ ...message, job: undefined }) }],
          },
        ],
      },
      tags: [
        { key: "switchboard:tenant", value: message.tenantId },
        { key: "switchboard:job", value: message.jobId },
      ],
    }),
  );
  const task = result.tasks?.[0];
  if (task?.taskArn === undefined) {
    const reason =
      result.failures?.map((f) => `${f.reason ?? "?"}: ${f.detail ?? ""}`).join("; ") ?? "no task";
    throw new Error(`RunTask started no task: ${reason}`);
  }
  return task.taskArn;
}

/** Stops a step's task. A task that already stopped is not an error. */
export async function stopStepTask(taskArn: string, reason: string): Promise<void> {
  try {
    await client().send(
      new StopTaskCommand({
        cluster: requireEnv(ENV.ecsCluster),
        task: taskArn,
        reason: reason.slice(0, 255),
      }),
    );
  } catch (error) {
    if ((error as Error).name === "InvalidParameterException") {
      logger.info("Task already gone", { taskArn });
      return;
    }
    throw error;
  }
}
