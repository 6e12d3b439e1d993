import { newQuickJSWASMModuleFromVariant } from "quickjs-emscripten-core";
import base from "@jitl/quickjs-singlefile-cjs-release-sync";
const QJS = await newQuickJSWASMModuleFromVariant(base);
for (const ss of [64, 128, 192, 256, 320, 384, 448]) {
  const rt = QJS.newRuntime(); rt.setMaxStackSize(ss * 1024); const ctx = rt.newContext();
  try { const r = ctx.evalCode("let d=0; function f(){d++; return f()+1}; try { f() } catch(e) { String(e) + ' ' + d }"); console.log(ss, ctx.dump(r.error ?? r.value)); (r.error ?? r.value).dispose(); } catch (e) { console.log(ss, "HOST", String(e)); break; }
  try { const r = ctx.evalCode("let d2=0; function g(){d2++; return [1].map(() => g())}; try { g() } catch(e) { String(e) + ' ' + d2 }"); console.log(ss, ctx.dump(r.error ?? r.value)); (r.error ?? r.value).dispose(); } catch (e) { console.log(ss, "HOST", String(e)); break; }
  try { const r = ctx.evalCode("let d3=0; function h(){d3++; return JSON.parse('[1]').map(() => JSON.stringify({a:h()}))}; try { h() } catch(e) { String(e) + ' ' + d3 }"); console.log(ss, ctx.dump(r.error ?? r.value)); (r.error ?? r.value).dispose(); } catch (e) { console.log(ss, "HOST", String(e)); break; }
  ctx.dispose(); rt.dispose();
}
