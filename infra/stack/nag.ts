/**
 * cdk-nag wiring and the two ways this stack answers a finding it cannot fix: a plain acknowledgement
 * with a reason, and wildcard allowances, which name the exact wildcard a grant needs and why.
 */
import { CfnElement, type IConstruct, Stack, type Stage, Validations } from "aws-cdk-lib";
import { CfnPolicy } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks, rules, ServerlessChecks } from "cdk-nag";

/** The packs the app runs at every synth; tests run the same list. */
export const nagPacks = () => [new AwsSolutionsChecks(undefined, { verbose: true }), new ServerlessChecks(undefined, { verbose: true })];

export function addNagPacks(app: Stage): void {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true }),
    new ServerlessChecks(app, { verbose: true }),
  );
}

export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

export const logicalId = (element: CfnElement): string => {
  const stack = Stack.of(element);
  return stack.resolve(stack.getLogicalId(element)) as string;
};

export interface WildcardAllowance {
  /** A resource (token or literal) containing `*`, exactly as it appears in the grant. */
  resource?: string;
  /** Actions that are granted on `"*"` because the service has no resource-level permissions for them. */
  actionsOnAnyResource?: readonly string[];
  /** A wildcard action (for example `kms:GenerateDataKey*`). */
  action?: string;
  reason: string;
}

const allowances = new WeakMap<Stack, WildcardAllowance[]>();

/** Declares that a wildcard in some grant of this stack is intended. Unclaimed wildcards stay findings. */
export function allowWildcard(scope: IConstruct, allowance: WildcardAllowance): void {
  const stack = Stack.of(scope);
  const list = allowances.get(stack) ?? [];
  list.push(allowance);
  allowances.set(stack, list);
}

/** The string cdk-nag shows for a resolved CloudFormation value (its finding ids are built from it). */
export function flatten(node: unknown): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node.replace(/\${/g, "<").replace(/}/g, ">");
  if (typeof node === "object" && node !== null) {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o["Fn::Join"])) {
      const [delimiter, items] = o["Fn::Join"] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (o["Fn::Sub"] !== undefined) return flatten(o["Fn::Sub"]);
    if (Array.isArray(o["Fn::GetAtt"])) {
      const [resource, attribute] = o["Fn::GetAtt"] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if (o["Fn::ImportValue"] !== undefined) return flatten(o["Fn::ImportValue"]);
    if (o.Ref !== undefined) return `<${flatten(o.Ref)}>`;
  }
  return JSON.stringify(node);
}

interface Statement {
  Effect: string;
  Action?: string | string[];
  Resource?: unknown;
}

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/**
 * Acknowledges each AwsSolutions-IAM5 finding of every policy in the stack that an allowance claims.
 * `Resource::*` is claimed only when every action granted on `*` in that policy is listed by some
 * allowance, so a new grant on `*` cannot slip through under an old reason.
 */
export function acknowledgeAllowedWildcards(stack: Stack): void {
  const granted = allowances.get(stack) ?? [];
  const byResource = new Map<string, string>();
  const byAction = new Map<string, string>();
  const onAny = new Map<string, string>();
  for (const a of granted) {
    if (a.resource !== undefined) byResource.set(`Resource::${flatten(stack.resolve(a.resource))}`, a.reason);
    if (a.action !== undefined) byAction.set(`Action::${a.action}`, a.reason);
    for (const action of a.actionsOnAnyResource ?? []) onAny.set(action, a.reason);
  }

  for (const node of stack.node.findAll()) {
    if (!(node instanceof CfnPolicy)) continue;
    const findings = rules.iam.IAMNoWildcardPermissions(node);
    if (!Array.isArray(findings)) continue;
    const document = stack.resolve(node.policyDocument) as { Statement?: Statement[] };
    for (const finding of findings) {
      let reason = byResource.get(finding) ?? byAction.get(finding);
      if (finding === "Resource::*") {
        const actions = (document.Statement ?? [])
          .filter((s) => s.Effect === "Allow" && list(s.Resource).includes("*"))
          .flatMap((s) => list(s.Action));
        const reasons = actions.map((action) => onAny.get(action));
        if (actions.length > 0 && reasons.every((r) => r !== undefined)) reason = [...new Set(reasons)].join(" ");
      }
      if (reason !== undefined) acknowledge(node, `AwsSolutions-IAM5[${finding}]`, reason);
    }
  }
}
