import { Match } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nagPacks } from "#infra/stack/nag";
import { logicalId, type Synthesized, synth } from "./synth.ts";

const certificateArn = "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000";

let s: Synthesized;

beforeAll(() => {
  s = synth({
    stage: "prod",
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
});
