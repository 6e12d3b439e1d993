/**
 * The CDK app (`cdk.json`): one Switchboard stack per stage, environment-agnostic so `cdk synth` needs
 * no credentials, checked by cdk-nag on every synth.
 */
import { App } from "aws-cdk-lib";
import { addNagPacks } from "./stack/nag.ts";
import { readSettings } from "./stack/settings.ts";
import { SwitchboardStack, stackName } from "./stack/switchboard-stack.ts";

const app = new App();
const settings = readSettings(app);

new SwitchboardStack(app, stackName(settings), {
  description: `Switchboard (${settings.stage}): serverless AI-agent workflows`,
  tags: { project: "switchboard", stage: settings.stage },
  ...(settings.region === undefined ? {} : { env: { region: settings.region } }),
});
addNagPacks(app);

app.synth();
