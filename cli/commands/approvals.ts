import { type Approval, ApprovalStatus } from "#events/approvals";
import { UsageError } from "../args.ts";
import { type Command, type Context, stringOption } from "../context.ts";
import { table } from "../output.ts";

const STATUSES = ApprovalStatus.options;

function decision(verb: "approve" | "reject"): Command {
  return {
    path: ["approvals", verb],
    summary: verb === "approve" ? "Approve a step's result so the job goes on" : "Reject a step's result",
    positionals: [{ name: "id", description: "The approval's id" }],
    options: {
      comment: { type: "string", short: "c", value: "text", description: "Why, for the audit log" },
    },
    async run(context: Context, args) {
      const id = args.positionals[0] as string;
      const comment = stringOption(args, "comment");
      const result = await (await context.client()).approvals.decide(id, verb, comment);
      if (context.json) context.printJson(result);
      else
        context.print(`${verb === "approve" ? "approved" : "rejected"} ${id}: approval is ${result.status}`);
      return 0;
    },
  };
}

export const approvalCommands: Command[] = [
  {
    path: ["approvals", "list"],
    summary: "List approvals (pending by default)",
    options: {
      status: {
        type: "string",
        short: "s",
        value: "status",
        description: `${STATUSES.join(", ")} (default pending)`,
      },
    },
    async run(context, args) {
      const status = ApprovalStatus.safeParse(stringOption(args, "status") ?? "pending");
      if (!status.success)
        throw new UsageError(`--status is one of ${STATUSES.join(", ")}`, "approvals list");
      const client = await context.client();
      const approvals: Approval[] = [];
      for await (const a of client.paginate((cursor) =>
        client.approvals.list({ status: status.data, ...(cursor === undefined ? {} : { cursor }) }),
      ))
        approvals.push(a);
      if (context.json) context.printJson(approvals);
      else {
        context.print(
          table(
            ["ID", "JOB", "STEP", "CONFIDENCE", "CREATED", "MESSAGE"],
            approvals.map((a) => [a.id, a.jobId, a.nodeId, a.confidence, a.createdAt, a.message]),
          ),
        );
      }
      return 0;
    },
  },
  decision("approve"),
  decision("reject"),
];
