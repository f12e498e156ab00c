#!/usr/bin/env node
// Runs every *.test.ts in the tree with node's test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [substring filters...]
//   TENDRIL_REQUIRE_PRIVILEGED=1  turns the loud skip of privileged tests into a failure.
//   TENDRIL_TEST_CONCURRENCY=N    unprivileged files run N in parallel (default 2: this project's
//                                 machines have 2 cores; 1 under TENDRIL_REQUIRE_PRIVILEGED=1, as in CI).
//                                 Files in test/privileged/ always run one at a time, after the rest.
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
// Privileged files (cgroups, netns, bpffs, the run sweeper) always run one at a time, after the
// others, so no two of them share the kernel state they create and sweep.
const privileged = files.filter((f) => f.startsWith('test/privileged/'));
const others = files.filter((f) => !f.startsWith('test/privileged/'));
const batches = [
  ...(others.length ? [{ files: others, concurrency }] : []),
  ...(privileged.length ? [{ files: privileged, concurrency: '1' }] : []),
];

function runBatch(b) {
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${b.concurrency}`, '--test-reporter=spec', ...b.files];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

let failed = 0;
for (const b of batches) failed = (await runBatch(b)) || failed;
process.exit(failed);
