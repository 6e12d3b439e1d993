/**
 * Every AWS call a function's code can make is allowed by its role. The calls are read from the code
 * itself: esbuild bundles each entry as the stack does (tree-shaken, unminified, so each project file's
 * surviving code sits under a `// path` header), and each file's part of the bundle is searched for the
 * SDK commands that file imports and constructs. A new SDK call without a grant fails here, naming the
 * function, the command and the file.
 */
import { readFileSync } from "node:fs";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FunctionName, manifest } from "#infra/manifest";
import { functionNames } from "#infra/stack/functions";
import { fromRoot } from "#infra/stack/paths";
import { actionsOf, logicalId, type Synthesized, statementsOf, synth } from "./synth.ts";

let s: Synthesized;

beforeAll(() => {
  s = synth();
});

afterAll(() => s?.dispose());

/** IAM service prefix of each SDK client package the code uses. */
const servicePrefix: Record<string, string> = {
  "client-dynamodb": "dynamodb",
  "client-dynamodb-streams": "dynamodb",
  "lib-dynamodb": "dynamodb",
  "client-sqs": "sqs",
  "client-s3": "s3",
  "client-kms": "kms",
  "client-ecs": "ecs",
  "client-scheduler": "scheduler",
  "client-secrets-manager": "secretsmanager",
  "client-bedrock-runtime": "bedrock",
  "client-apigatewaymanagementapi": "execute-api",
  "client-api-gateway": "apigateway",
};

/** Commands whose IAM action is not `service:<Name>`. */
const actionsOfCommand: Record<string, string[]> = {
  "lib-dynamodb:Get": ["dynamodb:GetItem"],
  "lib-dynamodb:Put": ["dynamodb:PutItem"],
  "lib-dynamodb:Update": ["dynamodb:UpdateItem"],
  "lib-dynamodb:Delete": ["dynamodb:DeleteItem"],
  "lib-dynamodb:BatchGet": ["dynamodb:BatchGetItem"],
  "lib-dynamodb:BatchWrite": ["dynamodb:BatchWriteItem"],
  "lib-dynamodb:TransactGet": ["dynamodb:GetItem"],
  // A transaction is authorised per item, by the action of each item's kind.
  "lib-dynamodb:TransactWrite": [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
  ],
  "client-sqs:SendMessageBatch": ["sqs:SendMessage"],
  "client-sqs:DeleteMessageBatch": ["sqs:DeleteMessage"],
  "client-sqs:ChangeMessageVisibilityBatch": ["sqs:ChangeMessageVisibility"],
  "client-bedrock-runtime:Converse": ["bedrock:InvokeModel"],
  "client-bedrock-runtime:ConverseStream": ["bedrock:InvokeModelWithResponseStream"],
  "client-apigatewaymanagementapi:PostToConnection": ["execute-api:ManageConnections"],
  "client-apigatewaymanagementapi:GetConnection": ["execute-api:ManageConnections"],
  "client-apigatewaymanagementapi:DeleteConnection": ["execute-api:ManageConnections"],
  // API Gateway's control plane is authorised by HTTP verb on the resource path.
  "client-api-gateway:CreateApiKey": ["apigateway:POST"],
  "client-api-gateway:CreateUsagePlanKey": ["apigateway:POST"],
  "client-api-gateway:GetApiKeys": ["apigateway:GET"],
  "client-api-gateway:DeleteApiKey": ["apigateway:DELETE"],
  "client-api-gateway:GetUsagePlans": ["apigateway:GET"],
};

/** Calls made by libraries on the code's behalf, keyed by the import that makes them. */
const libraryCalls: Record<string, string[]> = {
  "@aws-lambda-powertools/parameters/secrets": ["secretsmanager:GetSecretValue"],
};

interface Call {
  action: string;
  command: string;
  file: string;
}

const importPattern =
  /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"(@aws-sdk\/[^"]+|@aws-lambda-powertools\/[^"]+)"/g;

/**
 * The SDK calls one source file makes: the commands it imports, constructed in `code` (the file's part of
 * a bundle, where esbuild may have suffixed a name with a digit, or the whole file).
 */
function callsIn(file: string, code = readFileSync(fromRoot(file), "utf8")): Call[] {
  const source = readFileSync(fromRoot(file), "utf8");
  const calls: Call[] = [];
  for (const [, names = "", from = ""] of source.matchAll(importPattern)) {
    for (const action of libraryCalls[from] ?? []) calls.push({ action, command: from, file });
    const pkg = from.replace("@aws-sdk/", "");
    const prefix = servicePrefix[pkg];
    if (prefix === undefined) continue;
    for (const raw of names.split(",")) {
      const name = raw.trim();
      if (name.startsWith("type ") || !name.endsWith("Command")) continue;
      if (!new RegExp(`new\\s+${name}\\d*\\s*\\(`).test(code)) continue;
      const bare = name.slice(0, -"Command".length);
      for (const action of actionsOfCommand[`${pkg}:${bare}`] ?? [`${prefix}:${bare}`]) {
        calls.push({ action, command: name, file });
      }
    }
  }
  return calls;
}

/** The code of each project file that survives in the entry's bundle, by file. */
async function bundledSources(entry: string): Promise<Map<string, string>> {
  const result = await build({
    entryPoints: [fromRoot(entry)],
    bundle: true,
    write: false,
    metafile: true,
    platform: "node",
    format: "esm",
    target: "node22",
    mainFields: ["module", "main"],
    tsconfig: fromRoot("tsconfig.json"),
    absWorkingDir: fromRoot(),
    outdir: "out",
    logLevel: "silent",
  });
  const output = Object.values(result.metafile.outputs)[0];
  const text = result.outputFiles[0]?.text;
  if (output === undefined || text === undefined) throw new Error(`esbuild produced nothing for ${entry}`);
  const files = Object.entries(output.inputs)
    .filter(([path, input]) => !path.includes("node_modules") && input.bytesInOutput > 0)
    .map(([path]) => path);
  const header = /^\/\/ (\S+)$/gm;
  const starts = [...text.matchAll(header)].map((m) => ({ path: m[1] ?? "", at: m.index }));
  const chunks = new Map<string, string>();
  starts.forEach((start, i) => {
    const end = starts[i + 1]?.at ?? text.length;
    chunks.set(start.path, (chunks.get(start.path) ?? "") + text.slice(start.at, end));
  });
  const missing = files.filter((file) => !chunks.has(file));
  if (missing.length > 0) throw new Error(`no bundle section for ${missing.join(", ")}`);
  return new Map(files.map((file) => [file, chunks.get(file) ?? ""]));
}

const granted = (actions: Set<string>, action: string) =>
  [...actions].some((pattern) =>
    new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`).test(action),
  );

const compute: { name: string; entry: string; role: () => string }[] = [
  ...functionNames.map((name: FunctionName) => ({
    name,
    entry: manifest.functions[name].entry,
    role: () => logicalId(s.stack.functions.get(name).role!),
  })),
  { name: "step task", entry: "functions/tasks/step-task.ts", role: () => logicalId(s.stack.tasks.taskRole) },
];

describe("roles allow what the code calls", () => {
  it.each(compute.map((c) => [c.name, c] as const))("%s", async (_name, { entry, role }) => {
    const calls = [...(await bundledSources(entry))].flatMap(([file, code]) => callsIn(file, code));
    expect(calls.length, `${entry} makes AWS calls`).toBeGreaterThan(0);
    const actions = actionsOf(statementsOf(s.template, role()));
    const missing = calls
      .filter((call) => !granted(actions, call.action))
      .map((call) => `${call.action} (${call.command} in ${call.file})`);
    expect([...new Set(missing)]).toEqual([]);
  });

  it("reads calls from the code, so an ungranted command is caught", () => {
    const calls = callsIn("shared/jobs/tasks.ts").map((c) => c.action);
    expect(calls).toEqual(expect.arrayContaining(["ecs:RunTask", "ecs:StopTask"]));
    const sweeper = actionsOf(statementsOf(s.template, logicalId(s.stack.functions.get("sweeper").role!)));
    expect(granted(sweeper, "ecs:RunTask")).toBe(false);
  });
});
