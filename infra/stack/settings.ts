import { RemovalPolicy } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

export type StageName = "dev" | "prod";

/** Everything that differs between deployments, read once from CDK context (`-c key=value`). */
export interface Settings {
  stage: StageName;
  isProd: boolean;
  /** Data stores: kept when prod's stack is deleted. */
  dataRemovalPolicy: RemovalPolicy;
  logRetention: RetentionDays;
  logLevel: string;
  alarmEmail: string | undefined;
  /**
   * CloudFront WAF. A CLOUDFRONT-scoped web ACL can only live in us-east-1, and this stack is
   * environment-agnostic, so it cannot tell at synth where it will land:
   * `create` builds one here (deploy to us-east-1 only), an ARN attaches one made elsewhere.
   */
  cloudFrontWebAcl: { kind: "create" } | { kind: "arn"; arn: string } | undefined;
  /** Optional custom domain for the dashboard, with an ACM certificate in us-east-1. */
  dashboardDomain: { domainName: string; certificateArn: string } | undefined;
}

const text = (scope: Construct, key: string): string | undefined => {
  const value: unknown = scope.node.tryGetContext(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string")
    throw new Error(`Context "${key}" must be a string, got ${JSON.stringify(value)}`);
  return value;
};

export function readSettings(scope: Construct): Settings {
  const stage = text(scope, "stage") ?? "dev";
  if (stage !== "dev" && stage !== "prod") {
    throw new Error(`Context "stage" must be "dev" or "prod", got "${stage}"`);
  }
  const isProd = stage === "prod";

  const waf = text(scope, "cloudFrontWaf");
  let cloudFrontWebAcl: Settings["cloudFrontWebAcl"];
  if (waf === "create") cloudFrontWebAcl = { kind: "create" };
  else if (waf?.startsWith("arn:")) cloudFrontWebAcl = { kind: "arn", arn: waf };
  else if (waf !== undefined) {
    throw new Error(`Context "cloudFrontWaf" must be "create" or a web ACL ARN, got "${waf}"`);
  }

  const domainName = text(scope, "dashboardDomain");
  const certificateArn = text(scope, "dashboardCertificateArn");
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error('Contexts "dashboardDomain" and "dashboardCertificateArn" go together');
  }

  return {
    stage,
    isProd,
    dataRemovalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    logRetention: isProd ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_MONTH,
    logLevel: text(scope, "logLevel") ?? "INFO",
    alarmEmail: text(scope, "alarmEmail"),
    cloudFrontWebAcl,
    dashboardDomain:
      domainName !== undefined && certificateArn !== undefined ? { domainName, certificateArn } : undefined,
  };
}
