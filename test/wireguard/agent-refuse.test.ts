/**
 * `encryption.enabled: true` on a machine that cannot run WireGuard is refused at start with exit 2
 * naming the key, before anything listens; never accepted and shown as on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TENDRIL_BIN } from '../helpers/agent.js';

test('encryption.enabled without a usable WireGuard backend exits 2 naming encryption.enabled', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-wgrefuse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sets = ['encryption.enabled=true', 'datapath.enabled=false', 'hubble.store.enabled=false', 'health.listenAddress=127.0.195.1:9879', `encryption.wireguard.stateDir=${dir}/wg`];
  // An empty PATH: no wireguard-go (and, as non-root, no privileges either) -> unsupported.
  const r = spawnSync(process.execPath, [TENDRIL_BIN, 'agent', ...sets.flatMap((s) => ['--set', s])], { encoding: 'utf8', env: { ...process.env, PATH: join(dir, 'empty') }, timeout: 30_000 });
  assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /encryption\.enabled: true with encryption\.type: wireguard cannot run on this machine: /);
  assert.match(r.stderr, /wireguard-go is not on PATH|not running as root/);
  assert.doesNotMatch(r.stderr, /agent ready/);
});

test('encryption.type other than wireguard is refused by the schema with exit 2 naming encryption.type', () => {
  const r = spawnSync(process.execPath, [TENDRIL_BIN, 'agent', '--check-config', '--set', 'encryption.enabled=true', '--set', 'encryption.type=ipsec'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /encryption\.type/);
});
