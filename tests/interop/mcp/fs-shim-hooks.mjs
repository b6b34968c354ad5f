// ESM loader resolve hook (runs on the loader thread).
const SHIM_URL = new URL('./fs-globsync-shim.mjs', import.meta.url).href;
const PKG_MARKER = '/@modelcontextprotocol/conformance/';

export async function resolve(specifier, context, nextResolve) {
  if ((specifier === 'fs' || specifier === 'node:fs') &&
      context.parentURL && context.parentURL.includes(PKG_MARKER)) {
    return { url: SHIM_URL, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
