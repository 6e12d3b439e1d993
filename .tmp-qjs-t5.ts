import { newQuickJSWASMModuleFromVariant, newVariant } from "quickjs-emscripten-core";
import base from "@jitl/quickjs-singlefile-cjs-release-sync";
const MB = 1024 * 1024;
const mem = new WebAssembly.Memory({ initial: (16 * MB) / 65536, maximum: (48 * MB) / 65536 });
const QJS = await newQuickJSWASMModuleFromVariant(newVariant(base, { wasmMemory: mem }));
console.log(QJS.getWasmMemory() === mem, QJS.getWasmMemory().buffer.byteLength / MB);
const rt = QJS.newRuntime();
const ctx = rt.newContext();
for (const code of ["globalThis.a=[]; for (let i=0;i<3;i++) a.push(new Array(1e6).fill(1)); a.length", "let t=Date.now(); new Array(1e6).fill(1); Date.now()-t", "let t2=Date.now(); const x=[]; for(let i=0;i<1e6;i++) x.push(1); Date.now()-t2","let t3=Date.now(); new Array(1e6).fill(1); Date.now()-t3"]) {
  const r = ctx.evalCode(code);
  console.log(r.error ? ctx.dump(r.error) : ctx.dump(r.value), QJS.getWasmMemory().buffer.byteLength / MB); (r.error ?? r.value).dispose();
}
for (const ss of [64, 128, 256, 384]) {
  rt.setMaxStackSize(ss * 1024);
  try { const r = ctx.evalCode("let d=0; function f(){d++; return f()+1}; try { f() } catch(e) { String(e) + ' ' + d }"); console.log(ss, ctx.dump(r.error ?? r.value)); (r.error ?? r.value).dispose(); } catch (e) { console.log(ss, "HOST", String(e)); break; }
}
