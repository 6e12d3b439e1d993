import { Role } from "#events/auth";
import { UsageError } from "../args.ts";
import { type Command, stringOption } from "../context.ts";
import { table } from "../output.ts";

export const keyCommands: Command[] = [
  {
    path: ["keys", "create"],
    summary: "Create an API key (shown once)",
    options: {
      name: {
        type: "string",
        short: "n",
        value: "name",
        description: "A name to recognise the key by (required)",
      },
      role: {
        type: "string",
        short: "r",
        value: "role",
        description: "admin, user or viewer (default user)",
      },
      "expires-at": { type: "string", value: "iso-date", description: "When the key stops working" },
    },
    examples: ["switchboard keys create --name ci --role user --expires-at 2026-01-01T00:00:00Z"],
    async run(context, args) {
      const name = stringOption(args, "name");
      if (name === undefined || name === "") throw new UsageError("Give the key a --name", "keys create");
      const role = Role.safeParse(stringOption(args, "role") ?? "user");
      if (!role.success) throw new UsageError("--role is admin, user or viewer", "keys create");
      const expiresAt = stringOption(args, "expires-at");
      if (expiresAt !== undefined && Number.isNaN(Date.parse(expiresAt))) {
        throw new UsageError("--expires-at is not a date (use ISO-8601)", "keys create");
      }
      const created = await (await context.client()).apiKeys.create({
        name,
        role: role.data,
        ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt).toISOString() }),
      });
      if (context.json) context.printJson(created);
      else {
        context.print(`Created API key ${created.id} (${created.role}):\n\n  ${created.key}\n`);
        context.warn("Keep it now: it is not shown again. Use it as SWITCHBOARD_API_KEY.");
      }
      return 0;
    },
  },
  {
    path: ["keys", "list"],
    summary: "List API keys",
    async run(context) {
      const client = await context.client();
      const keys = [];
      for await (const key of client.paginate((cursor) => client.apiKeys.list(cursor))) keys.push(key);
      if (context.json) context.printJson(keys);
      else {
        context.print(
          table(
            ["ID", "NAME", "PREFIX", "ROLE", "CREATED", "EXPIRES", "LAST USED", "REVOKED"],
            keys.map((k) => [
              k.id,
              k.name,
              k.prefix,
              k.role,
              k.createdAt,
              k.expiresAt,
              k.lastUsedAt,
              k.revokedAt,
            ]),
          ),
        );
      }
      return 0;
    },
  },
  {
    path: ["keys", "revoke"],
    summary: "Revoke an API key",
    positionals: [{ name: "id", description: "The key's id" }],
    async run(context, args) {
      const id = args.positionals[0] as string;
      await (await context.client()).apiKeys.revoke(id);
      if (context.json) context.printJson({ id, revoked: true });
      else context.print(`Revoked ${id}`);
      return 0;
    },
  },
];
