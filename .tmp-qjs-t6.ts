import { newQuickJSWASMModuleFromVariant, newVariant } from "quickjs-emscripten-core";
import base from "@jitl/quickjs-singlefile-cjs-release-sync";
const MB = 1024 * 1024;
const mem = new WebAssembly.Memory({ initial: (16 * MB) / 65536, maximum: (48 * MB) / 65536 });
const b0 = ((base as any).default ?? base);
const v = newVariant(b0, { wasmMemory: mem, log: (...a: unknown[]) => console.log("LOG", ...a) });
console.log(Object.keys(v), v.importModuleLoader === base.importModuleLoader);
const QJS = await newQuickJSWASMModuleFromVariant(v);
console.log(QJS.getWasmMemory() === mem);
