// node:fs + a minimal globSync (Node 22 API subset: pattern string|string[],
// options.cwd, options.exclude(fn)). Supports *, **, ?, [..], {a,b}.
import fs from 'node:fs';
import path from 'node:path';
export * from 'node:fs';
export default fs;

function globToRegExp(glob) {
  let re = '', i = 0, inGroup = 0;
  while (i < glob.length) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // '**/' matches zero or more directories; trailing '**' matches anything
        if (glob[i + 2] === '/') { re += '(?:.*/)?'; i += 3; continue; }
        re += '.*'; i += 2; continue;
      }
      re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const j = glob.indexOf(']', i + 1);
      if (j < 0) re += '\\[';
      else { re += '[' + glob.slice(i + 1, j).replace(/^!/, '^') + ']'; i = j; }
    } else if (c === '{') { re += '(?:'; inGroup++; }
    else if (c === '}' && inGroup) { re += ')'; inGroup--; }
    else if (c === ',' && inGroup) re += '|';
    else re += c.replace(/[.+^$()|\\]/g, '\\$&');
    i++;
  }
  return new RegExp('^' + re + '$');
}

function walk(root, rel, out) {
  let entries;
  try { entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true }); }
  catch { return; }
  for (const e of entries) {
    const r = rel ? rel + '/' + e.name : e.name;
    out.push(r);
    if (e.isDirectory()) walk(root, r, out);
  }
}

export function globSync(pattern, options = {}) {
  const cwd = options.cwd ? String(options.cwd instanceof URL ? options.cwd.pathname : options.cwd) : process.cwd();
  const patterns = Array.isArray(pattern) ? pattern : [pattern];
  const all = [];
  walk(cwd, '', all);
  const res = new Set();
  for (const p of patterns) {
    const rx = globToRegExp(p.replace(/\\/g, '/'));
    for (const f of all) if (rx.test(f)) res.add(f);
  }
  let out = [...res].map(f => f.split('/').join(path.sep));
  if (typeof options.exclude === 'function') out = out.filter(f => !options.exclude(f));
  return out;
}
