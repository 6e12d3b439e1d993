/**
 * cdk-nag wiring and the two ways this stack answers a finding it cannot fix: a plain acknowledgement
 * with a reason, and wildcard allowances, which name the exact wildcard a grant needs and why.
 */
import { type IAspect, Stack, type Stage, Validations } from "aws-cdk-lib";
import { CfnPolicy } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks, rules, ServerlessChecks } from "cdk-nag";
import type { IConstruct } from "constructs";

/** The packs the app runs at every synth; tests run the same list. */
export const nagPacks = () => [
  new AwsSolutionsChecks(undefined, { verbose: true }),
  new ServerlessChecks(undefined, { verbose: true }),
];

export function addNagPacks(app: Stage): void {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true }),
    new ServerlessChecks(app, { verbose: true }),
  );
}

export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

export interface WildcardAllowance {
  /** A resource (token or literal) containing `*`, exactly as it appears in the grant. */
  resource?: string;
  /** Actions that are granted on `"*"` because the service has no resource-level permissions for them. */
  actionsOnAnyResource?: readonly string[];
  /** Every wildcard of the policies under this construct: only for CDK-owned handlers whose grants CDK writes. */
  everyFindingUnder?: IConstruct;
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

const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

function indexAllowances(stack: Stack, granted: readonly WildcardAllowance[]) {
  const byResource = new Map<string, string>();
  const onAny = new Map<string, string>();
  for (const a of granted) {
    if (a.resource !== undefined) byResource.set(`Resource::${flatten(stack.resolve(a.resource))}`, a.reason);
    for (const action of a.actionsOnAnyResource ?? []) onAny.set(action, a.reason);
  }
  return { byResource, onAny };
}

/**
 * Acknowledges each AwsSolutions-IAM5 finding that an allowance claims, on every policy of the stack. It
 * runs as a read-only aspect at synth, after all grants exist, so a grant added anywhere is judged.
 * `Resource::*` is claimed only when every action granted on `*` in that policy is listed by some
 * allowance, so a new grant on `*` cannot slip through under an old reason.
 */
export class WildcardAllowances implements IAspect {
  private index: ReturnType<typeof indexAllowances> | undefined;

  visit(node: IConstruct): void {
    if (!(node instanceof CfnPolicy)) return;
    const findings = rules.iam.IAMNoWildcardPermissions(node);
    if (!Array.isArray(findings)) return;
    const stack = Stack.of(node);
    const granted = allowances.get(stack) ?? [];
    this.index ??= indexAllowances(stack, granted);
    const { byResource, onAny } = this.index;
    const ownerReason = granted.find(
      (a) =>
        a.everyFindingUnder !== undefined && node.node.path.startsWith(`${a.everyFindingUnder.node.path}/`),
    )?.reason;
    const document = stack.resolve(node.policyDocument) as { Statement?: Statement[] };

    for (const finding of findings) {
      let reason = ownerReason ?? byResource.get(finding);
      if (finding === "Resource::*" && ownerReason === undefined) {
        const actions = (document.Statement ?? [])
          .filter((st) => st.Effect === "Allow" && list(st.Resource).includes("*"))
          .flatMap((st) => list(st.Action));
        const reasons = actions.map((action) => onAny.get(action));
        reason = reasons.every((r) => r !== undefined) ? [...new Set(reasons)].join(" ") : undefined;
      }
      if (reason !== undefined) acknowledge(node, `AwsSolutions-IAM5[${finding}]`, reason);
    }
  }
}
