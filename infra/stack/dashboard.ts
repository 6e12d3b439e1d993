/**
 * The dashboard: a private S3 bucket behind CloudFront (origin access control), security headers, SPA
 * routing, and a `config.json` that tells the app where the APIs are.
 */
import { Aws, CfnCondition, Duration, Fn, RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import { Certificate } from "aws-cdk-lib/aws-certificatemanager";
import {
  AllowedMethods,
  CachePolicy,
  type CfnDistribution,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  S3OriginAccessControl,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { BucketDeployment, type ISource, Source } from "aws-cdk-lib/aws-s3-deployment";
import { Construct } from "constructs";
import { acknowledge, allowWildcard } from "./nag.ts";
import { exists, fromRoot } from "./paths.ts";
import { regionsWithoutCloudFrontLogs, type Settings } from "./settings.ts";

/** The build the deploy script makes first; synth without it still works, with a placeholder page. */
export const webBuild = "web/dist";

const cloudFrontLogPrefix = "cloudfront/";

/** The stack's region when it is bound to one, else undefined (environment-agnostic). */
const settingsRegion = (stack: Stack): string | undefined =>
  Token.isUnresolved(stack.region) ? undefined : stack.region;

export const placeholderPage =
  '<!doctype html><meta charset="utf-8"><title>Switchboard</title>' +
  "<p>The dashboard has not been built. Run <code>npm run build:web</code>, then deploy again.</p>";

/** What the app reads at start; written at deploy, when the API URLs are known. */
export interface RuntimeConfig {
  apiUrl: string;
  wsUrl: string;
  stage: string;
}

export interface DashboardSiteProps {
  settings: Settings;
  accessLogs: IBucket;
  webAclArn: string | undefined;
}

export class DashboardSite extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  /** `https://…` origin the browser sees; the REST API allows it in CORS. */
  readonly origin: string;

  constructor(scope: Construct, id: string, props: DashboardSiteProps) {
    super(scope, id);
    const { settings, accessLogs, webAclArn } = props;

    this.bucket = new Bucket(this, "Bucket", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: "dashboard/",
      // Only build output lives here; every deploy writes it again from web/.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    const apiHosts = `https://*.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX} wss://*.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}`;
    // Response headers policies and origin access controls are named per account, not per region: the name
    // carries stage and region, so the same stage deploys to two regions of one account.
    const accountWideName = (what: string) => Fn.join("-", [Stack.of(this).stackName, Aws.REGION, what]);
    const headers = new ResponseHeadersPolicy(this, "SecurityHeaders", {
      responseHeadersPolicyName: accountWideName("headers"),
      comment: "Switchboard dashboard security headers",
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: [
            "default-src 'self'",
            `connect-src 'self' ${apiHosts}`,
            "img-src 'self' data:",
            // React Flow positions nodes with inline styles.
            "style-src 'self' 'unsafe-inline'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
          ].join("; "),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: {
          referrerPolicy: HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
          override: true,
        },
        xssProtection: { protection: true, modeBlock: true, override: true },
      },
    });

    const originAccessControl = new S3OriginAccessControl(this, "OriginAccessControl", {
      originAccessControlName: accountWideName("oac"),
      description: "Switchboard dashboard bucket",
    });
    const origin = S3BucketOrigin.withOriginAccessControl(this.bucket, { originAccessControl });
    const domain = settings.dashboardDomain;
    this.distribution = new Distribution(this, "Distribution", {
      comment: `Switchboard dashboard (${settings.stage})`,
      defaultRootObject: "index.html",
      defaultBehavior: {
        origin,
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
      },
      additionalBehaviors: {
        // Read at every start, changed at every deploy: never served from a cache.
        "/config.json": {
          origin,
          viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          responseHeadersPolicy: headers,
        },
      },
      // Client-side routes: S3 answers 403 for a key that does not exist (no ListBucket), 404 just in case.
      errorResponses: [403, 404].map((httpStatus) => ({
        httpStatus,
        responseHttpStatus: 200,
        responsePagePath: "/index.html",
        ttl: Duration.seconds(0),
      })),
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: accessLogs,
      logFilePrefix: cloudFrontLogPrefix,
      ...(webAclArn !== undefined ? { webAclId: webAclArn } : {}),
      ...(domain !== undefined
        ? {
            domainNames: [domain.domainName],
            minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
            certificate: Certificate.fromCertificateArn(this, "Certificate", domain.certificateArn),
          }
        : {}),
    });
    this.origin = `https://${domain?.domainName ?? this.distribution.distributionDomainName}`;
    this.logsOnlyWhereSupported(accessLogs);

    acknowledge(
      this.distribution,
      "AwsSolutions-CFR1",
      "Switchboard is a global tool with no legal or licensing reason to block countries; access is controlled by login.",
    );
    if (webAclArn === undefined) {
      acknowledge(
        this.distribution,
        "AwsSolutions-CFR2",
        "A CLOUDFRONT-scoped web ACL must be created in us-east-1 and this stack is region-agnostic. Deploy with " +
          "-c cloudFrontWaf=create (stack in us-east-1) or -c cloudFrontWaf=<web ACL ARN> to attach one. The " +
          "distribution only serves static files; the APIs behind it have their own regional web ACL.",
      );
    }
    if (domain === undefined) {
      acknowledge(
        this.distribution,
        "AwsSolutions-CFR4",
        "Without a custom domain CloudFront serves its default *.cloudfront.net certificate, whose viewer " +
          "policy AWS fixes at TLSv1. Set -c dashboardDomain and -c dashboardCertificateArn to enforce TLSv1.2_2021.",
      );
    }
  }

  /**
   * CloudFront cannot deliver standard logs to a bucket in an opt-in region, and the log bucket lives in
   * the stack's region: there, the distribution runs without standard logs (the API keeps its own access
   * logs). A CloudFormation condition decides, since an environment-agnostic stack learns its region
   * only at deploy.
   */
  private logsOnlyWhereSupported(accessLogs: IBucket): void {
    const stack = Stack.of(this);
    const cfn = this.distribution.node.defaultChild as CfnDistribution;
    const logging = {
      Bucket: accessLogs.bucketRegionalDomainName,
      Prefix: cloudFrontLogPrefix,
      IncludeCookies: false,
    };
    const region = settingsRegion(stack);
    if (region !== undefined) {
      if ((regionsWithoutCloudFrontLogs as readonly string[]).includes(region)) {
        cfn.addPropertyDeletionOverride("DistributionConfig.Logging");
        acknowledge(
          this.distribution,
          "AwsSolutions-CFR3",
          `CloudFront cannot deliver standard logs to S3 in ${region} (an opt-in region); the REST API's ` +
            "access logs and CloudWatch metrics still record every API call.",
        );
      }
      return;
    }
    const chunks: string[][] = [];
    for (let i = 0; i < regionsWithoutCloudFrontLogs.length; i += 10)
      chunks.push(regionsWithoutCloudFrontLogs.slice(i, i + 10));
    const unsupported = Fn.conditionOr(
      ...chunks.map((chunk) => Fn.conditionOr(...chunk.map((r) => Fn.conditionEquals(Aws.REGION, r)))),
    );
    const supported = new CfnCondition(this, "CloudFrontLogsSupported", {
      expression: Fn.conditionNot(unsupported),
    });
    cfn.addPropertyOverride(
      "DistributionConfig.Logging",
      Fn.conditionIf(supported.logicalId, logging, Aws.NO_VALUE),
    );
  }

  /** Uploads the build (or the placeholder) and the runtime config, then invalidates the cache. */
  publish(config: RuntimeConfig): BucketDeployment {
    const sources: ISource[] = [
      exists(webBuild) ? Source.asset(fromRoot(webBuild)) : Source.data("index.html", placeholderPage),
      Source.jsonData("config.json", config),
    ];
    const logGroup = new LogGroup(this, "PublishLogs", {
      retention: RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role so the deployment handler logs through a grant on its log group, not a managed policy.
    const role = new Role(this, "PublishRole", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: "Copies the dashboard build into its bucket",
    });
    logGroup.grantWrite(role);
    const deployment = new BucketDeployment(this, "Publish", {
      sources,
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ["/*"],
      prune: true,
      memoryLimit: 512,
      role,
      logGroup,
    });

    allowWildcard(this, {
      everyFindingUnder: role,
      reason:
        "CDK's BucketDeployment handler grants itself s3:GetObject*/List*/DeleteObject*/Abort* on the CDK asset " +
        "bucket and on this dashboard bucket only, to sync the build, and cloudfront:CreateInvalidation/" +
        "GetInvalidation on * to refresh the distribution; the grants and their wildcards are CDK's own.",
    });
    const stack = Stack.of(this);
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith("Custom::CDKBucketDeployment")) continue;
      const why =
        "CDK's BucketDeployment handler, run by CloudFormation only while the dashboard is deployed";
      acknowledge(child, "AwsSolutions-L1", `${why}; CDK pins its Python runtime with its awscli layer.`);
      acknowledge(
        child,
        "Serverless-LambdaLatestVersion",
        `${why}; CDK pins its Python runtime with its awscli layer.`,
      );
      acknowledge(
        child,
        "Serverless-LambdaDLQ",
        `${why}; it is invoked synchronously by the custom resource provider.`,
      );
      acknowledge(child, "Serverless-LambdaTracing", `${why}; there is no request path to trace.`);
    }
    return deployment;
  }
}
