// Usage: node --import ./shim-register.mjs <conformance>/dist/index.js ...
// Node 20 lacks fs.globSync (added in Node 22). Redirect `fs`/`node:fs` imports
// made from inside @modelcontextprotocol/conformance to a shim that adds it.
import * as fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') {
  register('./fs-shim-hooks.mjs', import.meta.url);
}
