import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/index.js';
import { proxyOptionsFromConfig } from './config-options.js';
import { resolveProxyOptions } from './options.js';

test('the default config maps to valid proxy options', () => {
  const cfg = loadConfig({});
  const o = proxyOptionsFromConfig(cfg.proxy);
  assert.equal(o.headersTimeoutMs, 10_000, 'the default 10s, parsed at load');
  assert.equal(o.maxHeaderCount, cfg.proxy.maxHeaderCount);
  assert.equal(o.encodedSlashes, cfg.proxy.encodedSlashes);
  assert.ok(Object.isFrozen(o));
});

test('invalid options name the field', () => {
  assert.throws(() => resolveProxyOptions({ maxHeaderCount: 0 }), (e: Error & { code?: string }) => e.code === 'TND_CONFIG_INVALID' && /proxy\.maxHeaderCount/.test(e.message));
  assert.throws(() => resolveProxyOptions({ headersTimeoutMs: 10, requestTimeoutMs: 5 }), /proxy\.headersTimeout/);
  assert.throws(() => resolveProxyOptions({ backslash: 'x' as 'slash' }), /proxy\.backslash/);
});
