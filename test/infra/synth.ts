import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type CfnElement, Stack, Validations } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { readSettings } from "#infra/stack/settings";
import { SwitchboardStack, stackName } from "#infra/stack/switchboard-stack";

export interface Synthesized {
  app: App;
  stack: SwitchboardStack;
  template: Template;
  /** Removes the cloud assembly (bundles and staged assets) from the temp folder. */
  dispose(): void;
}

/**
 * Builds and synthesizes the stack the way `infra/app.ts` does. Unless `bundle` is set, NodejsFunction
 * bundling is skipped (`aws:cdk:bundling-stacks: []`), which keeps template tests to a few seconds.
 */
export function synth(
  context: Record<string, unknown> = {},
  options: { bundle?: boolean; before?: (stack: SwitchboardStack) => void } = {},
): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), "switchboard-cdk-"));
  const app = new App({
    outdir,
    context: { stage: "dev", ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }), ...context },
  });
  const dispose = () => rmSync(outdir, { recursive: true, force: true });
  try {
    const settings = readSettings(app);
    const stack = new SwitchboardStack(
      app,
      stackName(settings),
      settings.region === undefined ? {} : { env: { region: settings.region } },
    );
    options.before?.(stack);
    return { app, stack, template: Template.fromStack(stack), dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

export const logicalId = (construct: IConstruct): string => {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  const stack = Stack.of(construct);
  return stack.resolve(stack.getLogicalId(element)) as string;
};

export const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
export const arnOf = (construct: IConstruct) => ({ "Fn::GetAtt": [logicalId(construct), "Arn"] });

export interface Acknowledgement {
  path: string;
  id: string;
  reason: string;
}

/** Every acknowledgement recorded under `scope`, with the construct path it sits on. */
export function acknowledgements(scope: IConstruct): Acknowledgement[] {
  const found: Acknowledgement[] = [];
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ path: construct.node.path, id, reason });
      }
    }
  }
  return found;
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** All Allow statements of the identity policies attached to a role (by the role's logical id). */
export function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources("AWS::IAM::Policy");
  return Object.values(policies)
    .filter((p) =>
      list(p.Properties.Roles as unknown[]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ Ref: roleLogicalId }),
      ),
    )
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
    .filter((s) => s.Effect === "Allow");
}

export const actionsOf = (statements: Statement[]) => new Set(statements.flatMap((s) => list(s.Action)));
