#!/usr/bin/env node
// Runs every *.test.ts in the tree with node's test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [substring filters...]
//   TENDRIL_REQUIRE_PRIVILEGED=1  turns the loud skip of privileged tests into a failure.
//   TENDRIL_TEST_CONCURRENCY=N    files run in parallel (default 2: this project's machines have 2 cores;
//                                 1 under TENDRIL_REQUIRE_PRIVILEGED=1, as in CI, so privileged files
//                                 never race each other for cgroups, netns, bpffs and the run sweeper).
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const skipDirs = new Set(['node_modules', 'dist', '.git', 'build']);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name) || name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = walk(root, []).sort().filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no test files matched', filters);
  process.exit(1);
}
const concurrency = process.env.TENDRIL_TEST_CONCURRENCY ?? (process.env.TENDRIL_REQUIRE_PRIVILEGED === '1' ? '1' : '2');
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
