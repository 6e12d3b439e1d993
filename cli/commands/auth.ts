import { createInterface } from "node:readline/promises";
import { Writable } from "node:stream";
import { UsageError } from "../args.ts";
import { type Command, type Context, readSource, stringOption } from "../context.ts";
import { saveLogin } from "../credentials.ts";

/** Asks on the terminal; with `hidden` nothing typed is echoed. */
async function prompt(context: Context, question: string, hidden: boolean): Promise<string> {
  const { stdin, stderr } = context.io;
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) stderr.write(chunk.toString());
      done();
    },
  });
  const rl = createInterface({ input: stdin, output, terminal: true });
  try {
    const answer = rl.question(question);
    muted = hidden;
    return (await answer).trim();
  } finally {
    if (hidden) stderr.write("\n");
    rl.close();
  }
}

export const authCommands: Command[] = [
  {
    path: ["login"],
    summary: "Sign in with email and password and keep the tokens",
    description:
      "Sign in with email and password. The tokens are kept in ~/.config/switchboard/credentials.json (mode 0600),\n" +
      "one login per API URL, and refreshed when they expire. With --json they are printed instead of kept.",
    anonymous: true,
    options: {
      email: {
        type: "string",
        short: "e",
        value: "email",
        description: "Email ($SWITCHBOARD_EMAIL; asked when unset)",
      },
      password: {
        type: "string",
        short: "p",
        value: "password",
        description: "Password ($SWITCHBOARD_PASSWORD; asked when unset). Visible to other users in ps",
      },
      "password-stdin": { type: "boolean", description: "Read the password from stdin" },
    },
    examples: [
      "switchboard login --email admin@localhost",
      "cat .data/admin-password | switchboard login -e admin@localhost --password-stdin",
    ],
    async run(context, args) {
      const { io } = context;
      const tty = io.stdin.isTTY === true;
      let email = stringOption(args, "email") ?? io.env.SWITCHBOARD_EMAIL;
      if (email === undefined && tty) email = await prompt(context, "Email: ", false);
      if (email === undefined || email === "")
        throw new UsageError("Give --email (or set SWITCHBOARD_EMAIL)", "login");
      let password = stringOption(args, "password");
      if (args.values["password-stdin"] === true)
        password = (await readSource(io, "-")).replace(/\r?\n$/, "");
      password ??= io.env.SWITCHBOARD_PASSWORD;
      if (password === undefined && tty) password = await prompt(context, "Password: ", true);
      if (password === undefined || password === "") {
        throw new UsageError("Give --password, --password-stdin or SWITCHBOARD_PASSWORD", "login");
      }
      const client = await context.client();
      const tokens = await client.login(email, password);
      if (context.json) {
        context.printJson(tokens);
        return 0;
      }
      await saveLogin(
        context.url,
        {
          accessToken: tokens.accessToken,
          refreshToken: tokens.refreshToken,
          expiresAt: new Date(Date.now() + tokens.expiresIn * 1000).toISOString(),
          email,
          savedAt: new Date().toISOString(),
        },
        context.credentialsFile,
      );
      context.print(`Signed in to ${context.url} as ${email}. Tokens kept in ${context.credentialsFile}`);
      return 0;
    },
  },
  {
    path: ["logout"],
    summary: "Forget the stored login for this API URL",
    anonymous: true,
    async run(context) {
      await saveLogin(context.url, undefined, context.credentialsFile);
      if (context.json) context.printJson({ url: context.url, loggedOut: true });
      else context.print(`Forgot the login for ${context.url}`);
      return 0;
    },
  },
  {
    path: ["whoami"],
    summary: "Show who the credentials belong to",
    async run(context) {
      const me = await (await context.client()).me();
      if (context.json) context.printJson(me);
      else {
        context.print(
          `${me.email ?? me.principalId} (${me.principalType}, role ${me.role}) in tenant ${me.tenantId}` +
            (me.platformAdmin ? ", platform admin" : ""),
        );
      }
      return 0;
    },
  },
];
