import { RemovalPolicy } from "aws-cdk-lib";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

export type StageName = "dev" | "prod";

/** Everything that differs between deployments, read once from CDK context (`-c key=value`). */
export interface Settings {
  stage: StageName;
  isProd: boolean;
  /**
   * `-c region=…` binds the stack to a region (otherwise it is environment-agnostic and lands where the
   * deploying credentials point). Needed for `cloudFrontWaf=create`, which only works in us-east-1.
   */
  region: string | undefined;
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

/** CloudFront's WAF web ACLs and viewer certificates exist only in this region. */
export const cloudFrontRegion = "us-east-1";

/**
 * Regions whose S3 buckets cannot receive CloudFront standard logs (the opt-in regions, per the CloudFront
 * developer guide, "Standard logging"). A dashboard stack there runs without them.
 */
export const regionsWithoutCloudFrontLogs = [
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-south-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-7",
  "ca-west-1",
  "eu-central-2",
  "eu-south-1",
  "eu-south-2",
  "il-central-1",
  "me-central-1",
  "me-south-1",
  "mx-central-1",
] as const;

/** The region an ARN names (its fourth field). */
const arnRegion = (arn: string) => arn.split(":")[3] ?? "";

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
  else if (waf?.startsWith("arn:")) {
    if (arnRegion(waf) !== cloudFrontRegion || !waf.includes(":global/webacl/")) {
      throw new Error(
        `Context "cloudFrontWaf" must name a CLOUDFRONT-scoped web ACL, which lives in ${cloudFrontRegion} ` +
          `(arn:aws:wafv2:${cloudFrontRegion}:<account>:global/webacl/...), got "${waf}"`,
      );
    }
    cloudFrontWebAcl = { kind: "arn", arn: waf };
  } else if (waf !== undefined) {
    throw new Error(`Context "cloudFrontWaf" must be "create" or a web ACL ARN, got "${waf}"`);
  }

  const domainName = text(scope, "dashboardDomain");
  const certificateArn = text(scope, "dashboardCertificateArn");
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error('Contexts "dashboardDomain" and "dashboardCertificateArn" go together');
  }
  if (certificateArn !== undefined && arnRegion(certificateArn) !== cloudFrontRegion) {
    throw new Error(
      `Context "dashboardCertificateArn" must be an ACM certificate in ${cloudFrontRegion}, the only region ` +
        `CloudFront takes certificates from; "${certificateArn}" is in "${arnRegion(certificateArn)}". ` +
        `Request or import the certificate in ${cloudFrontRegion}, whatever region the stack is in.`,
    );
  }
  const region = text(scope, "region");
  if (cloudFrontWebAcl?.kind === "create" && region !== cloudFrontRegion) {
    throw new Error(
      `Context "cloudFrontWaf=create" builds a CLOUDFRONT-scoped web ACL, which AWS only creates in ` +
        `${cloudFrontRegion}; this stack is ${region === undefined ? "not bound to a region" : `in ${region}`}. ` +
        `Deploy it with -c region=${cloudFrontRegion}, or create the web ACL in ${cloudFrontRegion} and pass ` +
        `its ARN as -c cloudFrontWaf=<arn>.`,
    );
  }

  return {
    stage,
    isProd,
    region,
    dataRemovalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    logRetention: isProd ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_MONTH,
    logLevel: text(scope, "logLevel") ?? "INFO",
    alarmEmail: text(scope, "alarmEmail"),
    cloudFrontWebAcl,
    dashboardDomain:
      domainName !== undefined && certificateArn !== undefined ? { domainName, certificateArn } : undefined,
  };
}
