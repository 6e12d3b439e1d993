import base from "@jitl/quickjs-singlefile-cjs-release-sync";
const MB = 1024 * 1024;
const mem = new WebAssembly.Memory({ initial: (16 * MB) / 65536, maximum: (48 * MB) / 65536 });
const loader: any = await base.importModuleLoader();
console.log(typeof loader, Object.keys(loader));
const f = typeof loader === "function" ? loader : loader.default;
const m = await f({ wasmMemory: mem });
console.log(m.quickjsEmscriptenInit(() => {}).getWasmMemory() === mem, m.HEAPU8.buffer === mem.buffer);
