import { newQuickJSWASMModuleFromVariant } from "quickjs-emscripten-core";
import variant from "@jitl/quickjs-singlefile-cjs-release-sync";
const QJS = await newQuickJSWASMModuleFromVariant(variant);
const code = process.argv[2]!;
const rt = QJS.newRuntime();
rt.setMemoryLimit(32 * 1024 * 1024);
rt.setMaxStackSize(1024 * 1024);
let calls = 0;
const deadline = Date.now() + 2000;
rt.setInterruptHandler(() => { calls++; return Date.now() > deadline; });
const ctx = rt.newContext();
const logs: string[] = [];
const fn = ctx.newFunction("log", (h) => { logs.push(`${Date.now() % 100000} ${ctx.getString(h)}`); });
ctx.setProp(ctx.global, "log", fn); fn.dispose();
const t = Date.now();
const r = ctx.evalCode(code);
if (r.error) { console.log("err", ctx.dump(r.error)); r.error.dispose(); } else {
  const e = rt.executePendingJobs();
  if (e.error) { console.log("jobErr", ctx.dump(e.error)); e.error.dispose(); } else console.log("jobs", e.value);
  const st = ctx.getPromiseState(r.value);
  console.log(st.type, st.type === "rejected" ? ctx.dump(st.error) : st.type === "fulfilled" ? ctx.dump(st.value) : "");
  if (st.type === "rejected") st.error.dispose(); if (st.type === "fulfilled" && !st.notAPromise) st.value.dispose();
  r.value.dispose();
}
console.log(Date.now() - t, "ms; interrupt calls", calls, logs.length, logs.at(-1));
ctx.dispose(); rt.dispose(); console.log("disposed ok");
