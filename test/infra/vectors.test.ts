import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FunctionName } from "#infra/manifest";
import { ENV } from "#shared/config";
import { actionsOf, logicalId, type Synthesized, statementsOf, synth } from "./synth.ts";

let s: Synthesized;

beforeAll(() => {
  s = synth();
});

afterAll(() => s?.dispose());

const roleId = (name: FunctionName) => logicalId(s.stack.functions.get(name).role!);
const envOf = (name: FunctionName): Record<string, unknown> => {
  const id = logicalId(s.stack.functions.get(name));
  return s.template.findResources("AWS::Lambda::Function")[id]!.Properties.Environment.Variables;
};
const vectorActions = (name: FunctionName) =>
  [...actionsOf(statementsOf(s.template, roleId(name)))].filter((a) => a.startsWith("s3vectors:")).sort();

describe("the collections' vector bucket", () => {
  it("is one S3 Vectors bucket, named by CloudFormation", () => {
    const buckets = s.template.findResources("AWS::S3Vectors::VectorBucket");

    expect(Object.keys(buckets)).toHaveLength(1);
    expect(Object.values(buckets)[0]?.Properties?.VectorBucketName).toBeUndefined();
  });

  it("lets the api manage indexes and vectors, and the worker only use vectors", () => {
    expect(vectorActions("api")).toEqual([
      "s3vectors:CreateIndex",
      "s3vectors:DeleteIndex",
      "s3vectors:DeleteVectors",
      "s3vectors:GetIndex",
      "s3vectors:GetVectors",
      "s3vectors:PutVectors",
      "s3vectors:QueryVectors",
    ]);
    expect(vectorActions("worker")).toEqual([
      "s3vectors:DeleteVectors",
      "s3vectors:GetVectors",
      "s3vectors:PutVectors",
      "s3vectors:QueryVectors",
    ]);
    for (const name of ["authorizer", "ws", "fanout", "dlq", "sweeper", "schedule"] as const) {
      expect(vectorActions(name)).toEqual([]);
      expect(envOf(name)).not.toHaveProperty(ENV.vectorBucket);
    }
  });

  it("tells the functions that use it its name", () => {
    const bucket = logicalId(s.stack.data.node.findChild("Vectors"));
    const name = {
      "Fn::Select": [1, { "Fn::Split": [":bucket/", { "Fn::GetAtt": [bucket, "VectorBucketArn"] }] }],
    };

    expect(envOf("api")[ENV.vectorBucket]).toEqual(name);
    expect(envOf("worker")[ENV.vectorBucket]).toEqual(name);
  });
});
