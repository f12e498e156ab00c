#!/usr/bin/env node
// Builds the libbpf N-API addon (native/build/Release/tendril_bpf.node) with node-gyp, offline:
// Node's headers come from /usr/include/node when present. Needs g++, make, libbpf-dev, libelf-dev, zlib.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
let gyp;
try {
  gyp = join(dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');
} catch {
  console.error('build-native: node-gyp is not installed; run `npm install` (it is a devDependency)');
  process.exit(1);
}
const args = [gyp, 'rebuild', '--directory', join(root, 'native')];
if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build-native: node-gyp failed; is libbpf-dev (and libelf-dev, zlib1g-dev, g++) installed?');
  process.exit(r.status ?? 1);
}
console.log('build-native: built native/build/Release/tendril_bpf.node');
