import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nagPacks } from "#infra/stack/nag";
import { regionsWithoutCloudFrontLogs } from "#infra/stack/settings";
import { logicalId, type Synthesized, synth } from "./synth.ts";

const certificateArn = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000";

let s: Synthesized;

beforeAll(() => {
  s = synth({
    stage: "prod",
    region: "us-east-1",
    alarmEmail: "ops@example.com",
    cloudFrontWaf: "create",
    dashboardDomain: "switchboard.example.com",
    dashboardCertificateArn: certificateArn,
  });
});

afterAll(() => s?.dispose());

describe("prod stage with every option", () => {
  it("is its own stack", () => {
    expect(s.stack.stackName).toBe("Switchboard-prod");
  });

  it("protects and retains the table", () => {
    s.template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it("retains the payload bucket, keys and secret", () => {
    s.template.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain" });
    expect(s.template.findResources("AWS::S3::Bucket", { DeletionPolicy: "Retain" })).toHaveProperty(
      logicalId(s.stack.data.payloads),
    );
    for (const key of Object.values(s.template.findResources("AWS::KMS::Key")))
      expect(key.DeletionPolicy).toBe("Retain");
    s.template.hasResource("AWS::SecretsManager::Secret", { DeletionPolicy: "Retain" });
  });

  it("keeps logs for three months", () => {
    s.template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 90 });
    s.template.resourcePropertiesCountIs("AWS::Logs::LogGroup", { RetentionInDays: 30 }, 0);
  });

  it("e-mails alarms, parking what SNS cannot deliver", () => {
    s.template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.com",
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue() },
    });
  });

  it("puts a CLOUDFRONT-scoped web ACL in front of the dashboard", () => {
    s.template.hasResourceProperties("AWS::WAFv2::WebACL", { Scope: "CLOUDFRONT" });
    s.template.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({
        WebACLId: Match.objectLike({ "Fn::GetAtt": Match.arrayWith(["Arn"]) }),
      }),
    });
  });

  it("serves the dashboard on its own domain with TLS 1.2 and allows that origin in CORS", () => {
    s.template.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({
        Aliases: ["switchboard.example.com"],
        ViewerCertificate: Match.objectLike({
          AcmCertificateArn: certificateArn,
          MinimumProtocolVersion: "TLSv1.2_2021",
        }),
      }),
    });
    s.template.hasOutput("DashboardUrl", { Value: "https://switchboard.example.com" });
    s.template.hasResourceProperties("AWS::ApiGateway::GatewayResponse", {
      ResponseParameters: Match.objectLike({
        "gatewayresponse.header.Access-Control-Allow-Origin": "'https://switchboard.example.com'",
      }),
    });
  });

  it("passes cdk-nag without the acknowledgements that only dev needs", () => {
    const findings = nagPacks().flatMap((pack) =>
      pack
        .validateScope(s.stack)
        .violations.map(
          (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
        ),
    );
    expect(findings).toEqual([]);
  });
});

describe("settings", () => {
  it("refuses an unknown stage before building anything", () => {
    expect(() => synth({ stage: "staging" })).toThrow(
      'Context "stage" must be "dev" or "prod", got "staging"',
    );
  });

  it("refuses a domain without its certificate", () => {
    expect(() => synth({ dashboardDomain: "x.example.com" })).toThrow(/go together/);
  });

  it("refuses at synth a dashboard certificate outside us-east-1, naming the region", () => {
    expect(() =>
      synth({
        dashboardDomain: "x.example.com",
        dashboardCertificateArn: certificateArn.replace("us-east-1", "eu-west-1"),
      }),
    ).toThrow(/must be an ACM certificate in us-east-1.*is in "eu-west-1"/);
  });

  it("refuses at synth a CloudFront web ACL to be created outside us-east-1", () => {
    expect(() => synth({ cloudFrontWaf: "create" })).toThrow(
      /only creates in us-east-1.*not bound to a region/,
    );
    expect(() => synth({ cloudFrontWaf: "create", region: "eu-west-1" })).toThrow(
      /only creates in us-east-1; this stack is in eu-west-1.*-c region=us-east-1/,
    );
    expect(() =>
      synth({ cloudFrontWaf: "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/x/0000" }),
    ).toThrow(/CLOUDFRONT-scoped web ACL/);
  });
});

describe("regions", () => {
  it("drops CloudFront standard logs in an opt-in region, whose buckets cannot receive them", () => {
    const optIn = synth({ region: "eu-south-1" });
    try {
      const distribution = Object.values(optIn.template.findResources("AWS::CloudFront::Distribution"))[0]!;
      expect(distribution.Properties.DistributionConfig.Logging).toBeUndefined();
      expect(optIn.template.toJSON().Conditions).toBeUndefined();
    } finally {
      optIn.dispose();
    }
  });

  it("keeps them in a region that supports them", () => {
    const plain = synth({ region: "eu-west-1" });
    try {
      plain.template.hasResourceProperties("AWS::CloudFront::Distribution", {
        DistributionConfig: Match.objectLike({ Logging: Match.objectLike({ Prefix: "cloudfront/" }) }),
      });
    } finally {
      plain.dispose();
    }
  });

  it("decides at deploy when the stack is not bound to a region", () => {
    const agnostic = synth();
    try {
      const distribution = Object.values(
        agnostic.template.findResources("AWS::CloudFront::Distribution"),
      )[0]!;
      const logging = distribution.Properties.DistributionConfig.Logging;
      expect(logging["Fn::If"][0]).toMatch(/CloudFrontLogsSupported/);
      expect(logging["Fn::If"][2]).toEqual({ Ref: "AWS::NoValue" });
      const conditions = JSON.stringify(agnostic.template.toJSON().Conditions);
      for (const region of regionsWithoutCloudFrontLogs) expect(conditions).toContain(`"${region}"`);
    } finally {
      agnostic.dispose();
    }
  });

  it("names account-wide CloudFront resources by stack and region, so stages and regions never collide", () => {
    s.template.hasResourceProperties("AWS::CloudFront::OriginAccessControl", {
      OriginAccessControlConfig: Match.objectLike({ Name: Match.anyValue() }),
    });
    const oac = Object.values(s.template.findResources("AWS::CloudFront::OriginAccessControl"))[0]!;
    expect(JSON.stringify(oac.Properties.OriginAccessControlConfig.Name)).toContain("Switchboard-prod");
    expect(oac.Properties.OriginAccessControlConfig.Name).toEqual({
      "Fn::Join": ["-", ["Switchboard-prod", { Ref: "AWS::Region" }, "oac"]],
    });
    const agnostic = synth();
    try {
      agnostic.template.hasResourceProperties("AWS::CloudFront::ResponseHeadersPolicy", {
        ResponseHeadersPolicyConfig: Match.objectLike({
          Name: { "Fn::Join": ["-", ["Switchboard-dev", { Ref: "AWS::Region" }, "headers"]] },
        }),
      });
    } finally {
      agnostic.dispose();
    }
  });

  it("names the user schedule group per deployment and deletes it with the stack, so a redeploy after destroy works", () => {
    const group = Object.values(s.template.findResources("AWS::Scheduler::ScheduleGroup"))[0]!;
    expect(group.DeletionPolicy).toBe("Delete");
    expect(JSON.stringify(group.Properties.Name)).toContain("AWS::StackId");
  });
});
