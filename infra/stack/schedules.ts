/**
 * EventBridge Scheduler: the system schedules of the manifest (the sweeper), and the group and role for
 * schedules users create through /v1/schedules.
 */
import { Aws, Duration, Fn, RemovalPolicy } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Schedule, ScheduleExpression, ScheduleGroup } from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke } from "aws-cdk-lib/aws-scheduler-targets";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { type FunctionName, manifest, type ScheduleSpec } from "#infra/manifest";
import { type Access, functionAccess } from "./access.ts";
import type { UserScheduleBinding } from "./bind.ts";
import { type Functions, functionNames, pascal } from "./functions.ts";
import { allowWildcard } from "./nag.ts";
import type { Settings } from "./settings.ts";

/** A scheduled run this late is superseded by the next one; retries cover throttling in between. */
export const scheduleRetry = { retryAttempts: 3, maxEventAge: Duration.minutes(5) };

/** The function user schedules invoke: the one whose access line says `userSchedules: "target"`. */
export function userScheduleTarget(): FunctionName | undefined {
  const targets = functionNames.filter((n) => {
    const access: Access = functionAccess[n];
    return access.userSchedules === "target";
  });
  if (targets.length > 1)
    throw new Error(`Only one function may be the user schedule target, got ${targets.join(", ")}`);
  return targets[0];
}

export interface SchedulesProps {
  settings: Settings;
  functions: Functions;
  /** Where invocations the scheduler could not deliver are kept. */
  failures: Queue;
}

export class Schedules extends Construct {
  readonly userGroup: ScheduleGroup;
  /** The role user schedules run with; it may invoke the user schedule target and nothing else. */
  readonly userRole: Role;
  readonly system: readonly Schedule[];
  private readonly target: FunctionName | undefined;
  private readonly failures: Queue;
  private readonly functions: Functions;

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    const { functions, failures } = props;
    this.functions = functions;
    this.failures = failures;

    const schedulerPrincipal = () =>
      new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
      });

    // Named per deployment (the stack id's UUID) and deleted with the stack: a retained group with a fixed
    // name would make the next deploy after a destroy fail on "already exists", and the schedules it held
    // would only invoke a function that is gone.
    this.userGroup = new ScheduleGroup(this, "UserSchedules", {
      scheduleGroupName: Fn.join("-", ["sb-user", Fn.select(2, Fn.split("/", Aws.STACK_ID))]),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.userRole = new Role(this, "UserScheduleRole", {
      assumedBy: schedulerPrincipal(),
      description: "Runs user schedules: invokes the schedule target function only",
    });
    failures.grantSendMessages(this.userRole);
    this.target = userScheduleTarget();
    if (this.target !== undefined) {
      const fn = functions.get(this.target);
      fn.grantInvoke(this.userRole);
      this.allowVersions(fn.functionArn);
    }

    const systemRole = new Role(this, "SystemScheduleRole", {
      assumedBy: schedulerPrincipal(),
      description: "Runs the stack's own schedules",
    });
    this.system = (manifest.schedules as readonly ScheduleSpec[]).map((spec) => {
      const fn = functions.get(spec.function);
      this.allowVersions(fn.functionArn);
      return new Schedule(this, `${pascal(spec.name)}Schedule`, {
        schedule: ScheduleExpression.expression(spec.expression),
        description: `Switchboard ${spec.name}: invokes ${spec.function}`,
        target: new LambdaInvoke(fn, {
          role: systemRole,
          deadLetterQueue: failures,
          retryAttempts: scheduleRetry.retryAttempts,
          maxEventAge: scheduleRetry.maxEventAge,
        }),
      });
    });
  }

  private allowVersions(functionArn: string): void {
    allowWildcard(this, {
      resource: `${functionArn}:*`,
      reason:
        "lambda:InvokeFunction on the function's own versions and aliases (ARN suffix); no other function.",
    });
  }

  binding(): UserScheduleBinding {
    return {
      groupName: this.userGroup.scheduleGroupName,
      groupArnForSchedules: `arn:${Aws.PARTITION}:scheduler:${Aws.REGION}:${Aws.ACCOUNT_ID}:schedule/${this.userGroup.scheduleGroupName}/*`,
      roleArn: this.userRole.roleArn,
      failureQueueArn: this.failures.queueArn,
      targetArn: this.target === undefined ? undefined : this.functions.get(this.target).functionArn,
    };
  }
}
