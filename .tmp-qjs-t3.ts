import { newQuickJSWASMModuleFromVariant } from "quickjs-emscripten-core";
import variant from "@jitl/quickjs-singlefile-cjs-release-sync";
const QJS = await newQuickJSWASMModuleFromVariant(variant);
const rt = QJS.newRuntime();
rt.setMemoryLimit(32 * 1024 * 1024);
const ctx = rt.newContext();
for (const code of ["globalThis.a=[]; for (let i=0;i<3;i++) a.push(new Array(1e6).fill(1)); a.length", "let s='x'; for(let i=0;i<27;i++) s=s+s; s.length", "globalThis.b=[]; for (let i=0;i<3e6;i++) b.push(i); b.length"]) {
const r = ctx.evalCode(code);
console.log(r.error ? ctx.dump(r.error) : ctx.dump(r.value)); (r.error ?? r.value).dispose();
console.log(rt.dumpMemoryUsage().split("\n").slice(0,6).join("\n"), QJS.getWasmMemory().buffer.byteLength/1e6);
}
ctx.dispose(); rt.dispose();
