import { Meter } from "./meter.ts";
import { startPlatform } from "../support/platform.ts";
const meter = new Meter().install();
const p = await startPlatform();
const chain = { name: "c", nodes: [1,2,3,4,5].map((i) => ({ id: `s${i}`, type: "code", code: "return 1", ...(i === 1 ? {} : { dependsOn: [`s${i-1}`] }) })) };
for (let i = 0; i < 2; i++) { const r = await p.api("POST", "/v1/jobs", { workflow: chain }); let s; do { await new Promise(r => setTimeout(r, 300)); s = (await p.api("GET", `/v1/jobs/${r.body.jobId}`)).body.status } while (s !== "succeeded"); }
await new Promise(r => setTimeout(r, 2000));
meter.reset();
const r = await p.api("POST", "/v1/jobs", { workflow: chain });
await new Promise(r => setTimeout(r, 4000));
const snap = meter.snapshot();
console.log(JSON.stringify(snap, null, 1));
await p.stop();
