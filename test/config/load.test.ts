import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig, DEFAULT_CONFIG_FILE, HUBBLE_METRICS_SEED } from '../../config/index.js';
import { parseDurationMs } from '../../core/index.js';
import { TendrilError } from '../../core/index.js';

function tmpFile(t: { after(fn: () => void): void }, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function configError(fn: () => unknown): TendrilError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TendrilError, `expected TendrilError, got ${err}`);
    return err;
  }
  assert.fail('expected loadConfig to throw');
}

test('the shipped default config is valid, standalone, on the corrected examples, with the seed metrics', () => {
  const c = loadConfig({ file: DEFAULT_CONFIG_FILE });
  assert.equal(c.mode, 'standalone');
  assert.match(c.standalone.policies[0]!, /config\/examples\/corrected$/);
  assert.match(c.standalone.world, /config\/examples\/world\.yaml$/);
  assert.deepEqual(c.hubble.metrics.enabled, HUBBLE_METRICS_SEED);
  assert.equal(c.hubble.listenAddress, '127.0.0.1:4245');
  assert.equal(c.hubble.metrics.listenAddress, '127.0.0.1:9965');
  assert.equal(c.hubble.eventBufferCapacity, 4096);
  assert.equal(c.encryption.type, 'wireguard');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.hubble.metrics), 'config is deep-frozen');
});

test('defaults apply with no sources at all', () => {
  const c = loadConfig({});
  assert.equal(c.mode, 'standalone');
  assert.equal(c.log.level, 'info');
  assert.equal(c.health.listenAddress, '127.0.0.1:9879');
});

test('merge order: file, then environment, then flags', (t) => {
  const file = tmpFile(t, 'c.yaml', 'log:\n  level: warn\nnodeName: from-file\nhubble:\n  eventBufferCapacity: 100\n');
  const c = loadConfig({
    file,
    env: { TENDRIL__LOG__LEVEL: 'debug', TENDRIL__HUBBLE__EVENTBUFFERCAPACITY: '200', UNRELATED: 'x' },
    sets: ['hubble.eventBufferCapacity=300', 'hubble.metrics.enabled={drop,http}'],
  });
  assert.equal(c.nodeName, 'from-file');
  assert.equal(c.log.level, 'debug', 'env beats file');
  assert.equal(c.hubble.eventBufferCapacity, 300, 'flags beat env');
  assert.deepEqual(c.hubble.metrics.enabled, ['drop', 'http'], 'helm-style list');
});

test('relative paths in a file resolve against the file folder', (t) => {
  const file = tmpFile(t, 'c.yaml', 'standalone:\n  policies: [pol]\n  world: w.yaml\n');
  const c = loadConfig({ file });
  assert.equal(c.standalone.policies[0], join(file, '..', 'pol'));
  assert.equal(c.standalone.world, join(file, '..', 'w.yaml'));
});

test('an invalid field in the file names the file, line:column and field path', (t) => {
  const file = tmpFile(t, 'bad.yaml', 'mode: standalone\nhubble:\n  enabled: true\n  eventBufferCapacity: lots\n');
  const err = configError(() => loadConfig({ file }));
  assert.equal(err.code, 'TND_CONFIG_INVALID');
  assert.match(err.message, /bad\.yaml:4:24: hubble\.eventBufferCapacity: must be integer/);
});

test('an unknown key is rejected with its path', (t) => {
  const file = tmpFile(t, 'bad.yaml', 'hubble:\n  metrics:\n    enabld: [drop]\n');
  const err = configError(() => loadConfig({ file }));
  assert.match(err.message, /bad\.yaml:3:5: hubble\.metrics\.enabld: unknown field/);
});

test('an enum violation lists the allowed values', (t) => {
  const file = tmpFile(t, 'bad.yaml', 'mode: cluster\n');
  const err = configError(() => loadConfig({ file }));
  assert.match(err.message, /bad\.yaml:1:7: mode: must be one of "standalone", "kubernetes"/);
});

test('all errors are reported at once', (t) => {
  const file = tmpFile(t, 'bad.yaml', 'mode: cluster\nk8sServicePort: 70000\n');
  const err = configError(() => loadConfig({ file }));
  assert.match(err.message, /mode:/);
  assert.match(err.message, /k8sServicePort: must be <= 65535/);
});

test('bad YAML names the file and position', (t) => {
  const file = tmpFile(t, 'broken.yaml', 'mode: standalone\nlog: [unclosed\n');
  const err = configError(() => loadConfig({ file }));
  assert.equal(err.code, 'TND_CONFIG_READ');
  assert.match(err.message, /broken\.yaml:\d+:\d+: invalid YAML/);
});

test('a missing file is a clear read error', () => {
  const err = configError(() => loadConfig({ file: '/nonexistent/tendril.yaml' }));
  assert.equal(err.code, 'TND_CONFIG_READ');
  assert.match(err.message, /\/nonexistent\/tendril\.yaml: cannot read config file: ENOENT/);
});

test('environment and flag errors name the variable or flag', () => {
  assert.match(configError(() => loadConfig({ env: { TENDRIL__HUBBLE__NOPE: '1' } })).message, /environment variable TENDRIL__HUBBLE__NOPE: no config key hubble\.nope/);
  assert.match(configError(() => loadConfig({ sets: ['hubble.eventBufferCapacity=0'] })).message, /flags \(--set\): hubble\.eventBufferCapacity: must be >= 1/);
  assert.match(configError(() => loadConfig({ sets: ['noequals'] })).message, /--set noequals: expected key\.path=value/);
});

test('durations parse once at load into milliseconds, with one grammar', async (t) => {
  const c = loadConfig({ sets: ['proxy.headersTimeout=250ms', 'proxy.idleTimeout=1h30m', 'hubble.store.retention=2w'] });
  assert.equal(c.proxy.headersTimeout, 250);
  assert.equal(c.proxy.idleTimeout, 90 * 60_000);
  assert.equal(c.proxy.requestTimeout, 300_000, 'defaults are parsed too');
  assert.equal(c.hubble.store.retention, 14 * 86_400_000);
  const rows: Array<[string, number | null]> = [['250ms', 250], ['10s', 10_000], ['30d', 30 * 86_400_000], ['1h30m', 5_400_000], ['1.5s', 1500], ['ten', null], ['', null], ['10', null], ['5y', null]];
  for (const [text, ms] of rows) {
    await t.test(JSON.stringify(text), () => {
      if (ms === null) {
        assert.throws(() => parseDurationMs(text, 'x'), /x: want a duration/);
        if (text !== '') assert.throws(() => loadConfig({ sets: [`proxy.idleTimeout=${text}`] }), /proxy\.idleTimeout/);
      } else {
        assert.equal(parseDurationMs(text, 'x'), ms);
        assert.equal(loadConfig({ sets: [`proxy.idleTimeout=${text}`] }).proxy.idleTimeout, ms, 'the schema accepts what the parser accepts');
      }
    });
  }
});
