/**
 * The producer side of observe/ (observe/index.ts) and everything that loads it (the proxy) must
 * not pull in the consumers' libraries: SQLite, gRPC, Prometheus (docs/observe.md, "Producers and
 * consumers"). Each entry module is imported in a fresh child process, which then lists the
 * CommonJS modules it loaded (ESM imports of CommonJS packages go through require's cache).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';

const run = promisify(execFile);
const root = resolve(new URL('../..', import.meta.url).pathname);
const HEAVY = ['better-sqlite3', '@grpc/grpc-js', 'prom-client'];

const PROBE = `
import { createRequire } from 'node:module';
await import(process.argv[1]);
const cache = createRequire(import.meta.url).cache;
process.stdout.write(JSON.stringify(Object.keys(cache)));
`;

async function loadedPackages(entry: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE, resolve(root, entry)], { cwd: root });
  const files = JSON.parse(stdout) as string[];
  return HEAVY.filter((pkg) => files.some((f) => f.includes(`/node_modules/${pkg}/`)));
}

for (const entry of ['proxy/index.ts', 'observe/index.ts']) {
  test(`importing ${entry} loads none of ${HEAVY.join(', ')}`, async () => {
    assert.deepEqual(await loadedPackages(entry), []);
  });
}

test('the probe sees them when the consumers are loaded (observe/consumers/index.ts)', async () => {
  assert.deepEqual(await loadedPackages('observe/consumers/index.ts'), HEAVY);
});
