/**
 * Fargate for long steps: a small VPC, a cluster and the step task definition whose image is built from
 * functions/tasks/Dockerfile when the stack is deployed.
 */
import { Aws, IgnoreMode } from "aws-cdk-lib";
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  SecurityGroup,
  SubnetType,
  Vpc,
} from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import {
  Cluster,
  type ContainerDefinition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from "aws-cdk-lib/aws-ecs";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { LogGroup } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { taskContainerName } from "./access.ts";
import type { TaskBinding } from "./bind.ts";
import { acknowledge, allowWildcard } from "./nag.ts";
import { fromRoot } from "./paths.ts";
import type { Settings } from "./settings.ts";

/**
 * The image's build context is the repository root, so the build can bundle the step entry with the same
 * shared/ and events/ code the functions use. Only what the build reads is sent along.
 */
export const taskImageContext = [
  "*",
  "!package.json",
  "!package-lock.json",
  "!tsconfig.json",
  "!infra",
  "infra/*",
  "!infra/manifest.ts",
  "!shared",
  "!events",
  "!functions",
];

export interface TasksProps {
  settings: Settings;
}

export class Tasks extends Construct {
  readonly vpc: Vpc;
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly securityGroup: SecurityGroup;
  readonly taskRole: Role;
  readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: TasksProps) {
    super(scope, id);
    const { settings } = props;

    const flowLogs = new LogGroup(this, "FlowLogs", {
      retention: settings.logRetention,
      removalPolicy: settings.dataRemovalPolicy,
    });
    // Public subnets and no NAT gateway: tasks get a public IP for model APIs and no inbound rule, which
    // saves two NAT gateways (about $65 a month plus data) for a workload that only calls out.
    this.vpc = new Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: SubnetType.PUBLIC, cidrMask: 24 }],
      flowLogs: {
        all: {
          destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: FlowLogTrafficType.ALL,
        },
      },
    });
    // Free gateway endpoints keep table and payload traffic on the AWS network.
    this.vpc.addGatewayEndpoint("DynamoDb", { service: GatewayVpcEndpointAwsService.DYNAMODB });
    this.vpc.addGatewayEndpoint("S3", { service: GatewayVpcEndpointAwsService.S3 });

    this.securityGroup = new SecurityGroup(this, "TaskSecurityGroup", {
      vpc: this.vpc,
      description: "Switchboard step tasks: no inbound, HTTPS out to AWS and model APIs",
      allowAllOutbound: true,
    });

    this.cluster = new Cluster(this, "Cluster", {
      vpc: this.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });

    this.taskRole = new Role(this, "TaskRole", {
      assumedBy: new ServicePrincipal("ecs-tasks.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": Aws.ACCOUNT_ID } },
      }),
      description: "Role of the Switchboard step task",
    });

    this.taskDefinition = new FargateTaskDefinition(this, "StepTask", {
      cpu: 1024,
      memoryLimitMiB: 2048,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
      taskRole: this.taskRole,
    });

    this.logs = new LogGroup(this, "StepLogs", {
      retention: settings.logRetention,
      removalPolicy: settings.dataRemovalPolicy,
    });
    this.container = this.taskDefinition.addContainer(taskContainerName, {
      // Staged at synth (a copy of the context), built and pushed by `cdk deploy`.
      image: ContainerImage.fromAsset(fromRoot(), {
        file: "functions/tasks/Dockerfile",
        platform: Platform.LINUX_ARM64,
        ignoreMode: IgnoreMode.DOCKER,
        exclude: taskImageContext,
      }),
      logging: LogDrivers.awsLogs({ streamPrefix: "step", logGroup: this.logs }),
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: "step-task",
        POWERTOOLS_METRICS_NAMESPACE: "Switchboard",
        POWERTOOLS_LOG_LEVEL: settings.logLevel,
      },
    });
    acknowledge(
      this.taskDefinition,
      "AwsSolutions-ECS2",
      "The step container's environment holds resource names and URLs only (table, queue, bucket, key id, " +
        "callback URL), the same values the functions get; secrets are fetched from Secrets Manager and KMS at run time.",
    );

    allowWildcard(this, {
      actionsOnAnyResource: ["ecr:GetAuthorizationToken"],
      reason:
        "ecr:GetAuthorizationToken has no resource-level permissions; pulling the step image needs it on *.",
    });
  }

  /** What the worker and the sweeper need to start, find and stop step tasks. */
  binding(): TaskBinding {
    const executionRole = this.taskDefinition.obtainExecutionRole();
    return {
      clusterArn: this.cluster.clusterArn,
      clusterName: this.cluster.clusterName,
      taskDefinitionArn: this.taskDefinition.taskDefinitionArn,
      passRoleArns: [this.taskRole.roleArn, executionRole.roleArn],
      subnetIds: this.vpc.publicSubnets.map((s) => s.subnetId).join(","),
      securityGroupIds: this.securityGroup.securityGroupId,
      containerName: this.container.containerName,
      assignPublicIp: "ENABLED",
    };
  }
}
