import { newQuickJSWASMModuleFromVariant, newVariant } from "quickjs-emscripten-core";
import base from "@jitl/quickjs-singlefile-cjs-release-sync";
const MB = 1024 * 1024;
const mem = new WebAssembly.Memory({ initial: (16 * MB) / 65536, maximum: (48 * MB) / 65536 });
let QJS = await newQuickJSWASMModuleFromVariant(newVariant((base as any).default ?? base, { wasmMemory: mem }));
function run(code: string) {
  const rt = QJS.newRuntime();
  rt.setMemoryLimit(32 * MB);
  rt.setMaxStackSize(512 * 1024);
  const deadline = Date.now() + 1000;
  let fired = false;
  rt.setInterruptHandler(() => { if (Date.now() > deadline) { fired = true; return true; } return false; });
  const ctx = rt.newContext();
  const t = Date.now();
  const r = ctx.evalCode(code);
  let out: unknown;
  if (r.error) { out = ctx.dump(r.error); r.error.dispose(); } else {
    const e = rt.executePendingJobs(); if (e.error) { out = ["jobErr", ctx.dump(e.error)]; e.error.dispose(); }
    const st = ctx.getPromiseState(r.value);
    out = [out, st.type, st.type === "rejected" ? ctx.dump(st.error) : st.type === "fulfilled" ? ctx.dump(st.value) : ""];
    if (st.type === "rejected") st.error.dispose(); if (st.type === "fulfilled" && !st.notAPromise) st.value.dispose();
    r.value.dispose();
  }
  console.log(code.slice(0, 50), fired, Date.now() - t, JSON.stringify(out).slice(0, 200), mem.buffer.byteLength / MB);
  try { ctx.dispose(); rt.dispose(); } catch (e) { console.log("DISPOSE FAILED", String(e).slice(0, 100)); }
}
for (let i = 0; i < 3; i++) {
run("let a=[];while(true)a.push(new Array(1e6).fill(1))");
run("(async () => { let a=[];while(true)a.push(new Array(1e6).fill(1)) })()");
run("let a=[];while(true)a.push('x'.repeat(1e6) + Math.random())");
run("let a=[];while(true)a.push(new Uint8Array(1e6))");
run("let a={};for(let i=0;;i++)a['k'+i]=i");
run("function f(n){return f(n+1)+1}; f(0)");
run("1+2");
}
