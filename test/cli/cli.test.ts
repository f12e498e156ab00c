import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const BIN = new URL('../../bin/tendril.js', import.meta.url).pathname;

function tendril(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('tendril --help lists every command', () => {
  const r = tendril(['--help']);
  assert.equal(r.code, 0);
  for (const cmd of ['agent', 'policy', 'proxy', 'observe', 'status', 'version']) assert.match(r.stdout, new RegExp(`\\n  ${cmd}\\b`), cmd);
  assert.match(r.stdout, /CiliumNetworkPolicy/);
});

test('each subcommand has a useful --help', () => {
  for (const [cmd, expect] of [
    ['agent', /hubble\.metrics\.enabled/],
    ['status', /cilium status/],
    ['version', /version/],
  ] as const) {
    const r = tendril([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, expect, cmd);
  }
});

test('unknown command exits 2 with a clear message', () => {
  const r = tendril(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('unknown flag exits 2 with a clear message', () => {
  const r = tendril(['agent', '--no-such-flag']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option '--no-such-flag'/);
});

test('version prints text and json', () => {
  const text = tendril(['version']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^tendril \d+\.\d+\.\d+ \(node v20/);
  const json = JSON.parse(tendril(['version', '-o', 'json']).stdout) as { version: string };
  assert.match(json.version, /^\d+\.\d+\.\d+$/);
});

test('agent --config <bad file> exits non-zero naming the bad field', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'hubble:\n  eventBufferCapacity: -1\n');
  const r = tendril(['agent', '--config', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.yaml:2:24: hubble\.eventBufferCapacity: must be >= 1/);
});

test('status without a running agent fails clearly', () => {
  const r = tendril(['status', '--server', '127.0.0.1:1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no agent answered at 127\.0\.0\.1:1/);
});
