/**
 * Keys, secrets, the access-log bucket and the WAF web ACLs. Other constructs receive these; none of them
 * creates its own.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Key } from "aws-cdk-lib/aws-kms";
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from "aws-cdk-lib/aws-s3";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { CfnWebACL, CfnWebACLAssociation } from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";
import { wafRequestsPerIpPer5Minutes } from "./limits.ts";
import { acknowledge } from "./nag.ts";
import type { Settings } from "./settings.ts";

type Scope = "REGIONAL" | "CLOUDFRONT";

const visibility = (metricName: string): CfnWebACL.VisibilityConfigProperty => ({
  cloudWatchMetricsEnabled: true,
  metricName,
  sampledRequestsEnabled: true,
});

const managedGroup = (
  priority: number,
  name: string,
  ruleActionOverrides?: CfnWebACL.RuleActionOverrideProperty[],
): CfnWebACL.RuleProperty => ({
  name,
  priority,
  overrideAction: { none: {} },
  statement: { managedRuleGroupStatement: { vendorName: "AWS", name, ruleActionOverrides } },
  visibilityConfig: visibility(name),
});

/** The same rules in front of the API and the dashboard; only the scope differs. */
export function webAcl(scope: Construct, id: string, aclScope: Scope): CfnWebACL {
  return new CfnWebACL(scope, id, {
    scope: aclScope,
    defaultAction: { allow: {} },
    description: `Switchboard ${aclScope === "REGIONAL" ? "REST API" : "dashboard"} protection`,
    visibilityConfig: visibility(`${id}`),
    rules: [
      // Workflow definitions and job inputs are legitimately larger than the rule set's 8 KB body
      // limit; the API enforces its own size limit and answers 413 in the contract's shape.
      managedGroup(0, "AWSManagedRulesCommonRuleSet", [
        { name: "SizeRestrictions_BODY", actionToUse: { count: {} } },
      ]),
      managedGroup(1, "AWSManagedRulesKnownBadInputsRuleSet"),
      managedGroup(2, "AWSManagedRulesAmazonIpReputationList"),
      {
        name: "RatePerIp",
        priority: 3,
        action: { block: {} },
        statement: { rateBasedStatement: { limit: wafRequestsPerIpPer5Minutes, aggregateKeyType: "IP" } },
        visibilityConfig: visibility("RatePerIp"),
      },
    ],
  });
}

export interface SecurityProps {
  settings: Settings;
}

export class Security extends Construct {
  /** HS256 signing key for access and refresh tokens. */
  readonly jwtSecret: Secret;
  /** Envelope key for provider credentials stored through /v1/secrets. */
  readonly providerKey: Key;
  /** Server access logs of the buckets and CloudFront standard logs. */
  readonly accessLogs: Bucket;
  readonly apiWebAcl: CfnWebACL;
  /** ARN of the CLOUDFRONT-scoped web ACL, when context asks for one. */
  readonly cloudFrontWebAclArn: string | undefined;

  constructor(scope: Construct, id: string, props: SecurityProps) {
    super(scope, id);
    const { settings } = props;

    this.jwtSecret = new Secret(this, "JwtSigningKey", {
      description: "Switchboard JWT signing key (HS256)",
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: settings.dataRemovalPolicy,
    });
    acknowledge(
      this.jwtSecret,
      "AwsSolutions-SMG4",
      "Rotating the HS256 signing key would need a dual-key verifier: every access and refresh token in flight " +
        "would fail at once. Tokens live 15 minutes and refresh tokens rotate, so the key is rotated by hand " +
        "(new secret version) in a planned window.",
    );

    this.providerKey = new Key(this, "ProviderSecretsKey", {
      description: "Switchboard envelope key for stored provider credentials",
      enableKeyRotation: true,
      removalPolicy: settings.dataRemovalPolicy,
      pendingWindow: Duration.days(settings.isProd ? 30 : 7),
    });

    this.accessLogs = new Bucket(this, "AccessLogs", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // CloudFront standard logs are delivered with an ACL grant, which needs ACLs enabled.
      objectOwnership: ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(settings.isProd ? 365 : 30) }],
      removalPolicy: settings.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !settings.isProd,
    });
    acknowledge(
      this.accessLogs,
      "AwsSolutions-S1",
      "This is the access-log bucket of the stack; logging it into itself would log its own log deliveries.",
    );

    this.apiWebAcl = webAcl(this, "ApiWebAcl", "REGIONAL");

    const cf = settings.cloudFrontWebAcl;
    if (cf?.kind === "create")
      this.cloudFrontWebAclArn = webAcl(this, "DashboardWebAcl", "CLOUDFRONT").attrArn;
    else if (cf?.kind === "arn") this.cloudFrontWebAclArn = cf.arn;
    else this.cloudFrontWebAclArn = undefined;
  }

  /** Puts the regional web ACL in front of a REST API stage. */
  protect(id: string, resourceArn: string, dependsOn: Construct): void {
    const association = new CfnWebACLAssociation(this, id, {
      resourceArn,
      webAclArn: this.apiWebAcl.attrArn,
    });
    association.node.addDependency(dependsOn);
  }
}
