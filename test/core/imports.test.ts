/**
 * Dependencies flow one way (docs/architecture.md, STYLE.md §1): each top-level folder may
 * import only the folders in its row; nothing imports agent/. Any folder may `import type` from
 * config/ (its own config slice). Tests (*.test.ts) are exempt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(new URL('../..', import.meta.url).pathname);
const ALLOWED: Record<string, string[]> = {
  core: [],
  config: ['core'],
  identity: ['core'],
  policy: ['core', 'identity'],
  observe: ['core', 'policy'],
  native: ['core'],
  wireguard: ['core', 'native'],
  proxy: ['core', 'policy', 'identity', 'observe'],
  datapath: ['core', 'policy', 'identity', 'observe', 'proxy', 'native'],
};

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'node_modules' && name !== 'build') files(p, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

test('imports between top-level folders follow the one-way table', () => {
  const violations: string[] = [];
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    let list: string[];
    try {
      list = files(join(root, folder));
    } catch {
      continue;
    }
    for (const file of list) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'(\.{1,2}\/[^']+)'/gm)) {
        const target = relative(root, resolve(dirname(file), m[3]!)).split('/')[0]!;
        if (target === folder || target.startsWith('..')) continue;
        const typeOnly = Boolean(m[2]);
        if (target === 'config' && typeOnly) continue;
        if (!allowed.includes(target)) violations.push(`${relative(root, file)} imports ${target}/ (${m[3]})`);
      }
      for (const m of text.matchAll(/import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) {
        const target = relative(root, resolve(dirname(file), m[1]!)).split('/')[0]!;
        if (target !== folder && !allowed.includes(target)) violations.push(`${relative(root, file)} dynamically imports ${target}/`);
      }
    }
  }
  assert.deepEqual(violations, []);
});
