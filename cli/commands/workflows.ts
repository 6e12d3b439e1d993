import { WorkflowDefinition } from "#events/workflow";
import type { WorkflowSummary } from "#events/workflows-api";
import { UsageError } from "../args.ts";
import { type Command, type Context, listOption, parseJson, readSource } from "../context.ts";
import { table } from "../output.ts";

/** Reads and checks a workflow file, so a typo is reported with its path before anything is sent. */
export async function readWorkflowFile(
  context: Context,
  source: string,
  command: string,
): Promise<WorkflowDefinition> {
  const text = await readSource(context.io, source);
  const json = parseJson(text, source === "-" ? "stdin" : source);
  const parsed = WorkflowDefinition.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new UsageError(`${source} is not a valid workflow:\n${problems.join("\n")}`, command);
  }
  return parsed.data;
}

function describe(workflow: WorkflowSummary): string {
  return `${workflow.name} (${workflow.id}${workflow.version === undefined ? "" : `, version ${workflow.version}`})`;
}

export const workflowCommands: Command[] = [
  {
    path: ["workflows", "apply"],
    summary: "Create workflows, or add a version to those that exist (by name)",
    description:
      "Create each workflow, or, when a workflow of that name exists and its definition differs, PUT it as a new\n" +
      "version. An unchanged definition makes no version.",
    options: {
      file: {
        type: "string",
        short: "f",
        multiple: true,
        value: "path",
        description: "Workflow JSON file, - for stdin",
      },
    },
    examples: [
      "switchboard workflows apply -f triage.json",
      "switchboard workflows apply -f a.json -f b.json --json",
    ],
    async run(context, args) {
      const files = listOption(args, "file");
      if (files.length === 0) throw new UsageError("Give at least one -f <file>", "workflows apply");
      const definitions = [];
      for (const file of files) definitions.push(await readWorkflowFile(context, file, "workflows apply"));
      const client = await context.client();
      const results = [];
      for (const definition of definitions) {
        const result = await client.workflows.apply(definition);
        results.push(result);
        if (!context.json) context.print(`${result.action} ${describe(result.workflow)}`);
      }
      if (context.json) context.printJson(results.length === 1 ? results[0] : results);
      return 0;
    },
  },
  {
    path: ["workflows", "list"],
    summary: "List workflows",
    async run(context) {
      const client = await context.client();
      const workflows = [];
      for await (const w of client.paginate((cursor) => client.workflows.list(cursor))) workflows.push(w);
      if (context.json) context.printJson(workflows);
      else {
        const row = (w: WorkflowSummary) => [w.id, w.name, w.version, w.updatedAt];
        context.print(table(["ID", "NAME", "VERSION", "UPDATED"], workflows.map(row)));
      }
      return 0;
    },
  },
  {
    path: ["workflows", "get"],
    summary: "Show a workflow and its latest definition",
    positionals: [{ name: "workflow", description: "Id or name" }],
    async run(context, args) {
      const ref = args.positionals[0] as string;
      const client = await context.client();
      const byName = await client.workflows.findByName(ref);
      const workflow = await client.workflows.get(byName?.id ?? ref);
      if (context.json) context.printJson(workflow);
      else {
        context.print(describe(workflow));
        context.print(JSON.stringify(workflow.definition, null, 2));
      }
      return 0;
    },
  },
];
